"""The core runs without Qt (and without httpx); scripting commands never load Qt.

Each check runs in a fresh interpreter where the forbidden packages cannot be imported at all,
so an import hidden anywhere in the import graph fails the test (import-linter checks the
static graph in `make lint`; this checks what really happens at run time).
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import parley.core
import parley.net

BLOCKER = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked!r}:
            raise ImportError(f"{{name}} is forbidden here")
        return None
sys.meta_path.insert(0, _Block())
"""


def _run(code: str, blocked: set[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER.format(blocked=blocked) + code],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _modules(package: object) -> list[str]:
    path = [str(Path(p)) for p in package.__path__]  # type: ignore[attr-defined]
    prefix = package.__name__ + "."  # type: ignore[attr-defined]
    return sorted(m.name for m in pkgutil.walk_packages(path, prefix))


def test_every_core_module_imports_without_qt_or_httpx() -> None:
    modules = _modules(parley.core)
    assert "parley.core.providers.catalog" in modules
    code = "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    proc = _run(code, {"PySide6", "shiboken6", "qasync", "httpx", "httpx_sse"})
    assert proc.returncode == 0, proc.stderr


def test_every_net_module_imports_without_qt() -> None:
    modules = _modules(parley.net)
    code = "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    proc = _run(code, {"PySide6", "shiboken6", "qasync"})
    assert proc.returncode == 0, proc.stderr


def test_scripting_commands_never_load_qt() -> None:
    code = (
        "from parley.cli import main\n"
        "assert main(['providers']) == 0\n"
        "import sys; assert 'PySide6' not in sys.modules\n"
    )
    proc = _run(code, {"PySide6", "shiboken6", "qasync"})
    assert proc.returncode == 0, proc.stderr
    assert "eurouter" in proc.stdout


def test_the_window_entry_and_the_first_frames_data_need_no_pydantic_or_asyncio() -> None:
    # What `parley` runs before its first frame: parley.cli and parley.app (which import Qt
    # only inside main) and the plain-data read of settings and conversations.
    code = (
        "import parley.cli, parley.app\n"
        "from parley.core.app.bootstate import read_boot_state\n"
        "read_boot_state()\n"
    )
    proc = _run(code, {"pydantic", "pydantic_core", "asyncio", "qasync", "PySide6", "httpx"})
    assert proc.returncode == 0, proc.stderr
