"""The `parley` command: the window by default, scripting subcommands otherwise.

This module decides which, and imports nothing else first: the window's start is measured against
a bare PySide6 window, and the scripting commands (`parley.commands`) load pydantic and the
provider catalog, which the window's first frame does not wait for (see `parley.ui.boot`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

# Arguments that belong to the scripting side even though they start with a dash.
_COMMAND_OPTIONS = frozenset({"-h", "--help", "--version"})


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0].lower().endswith(".toml") and not args[0].startswith("-"):
        # `parley FILE.toml`: the window, with that experiment in the Lab (as a file manager
        # opens it). A file that is not there is said here; one with problems, in the Lab.
        from pathlib import Path

        path = Path(args[0])
        if not path.is_file():
            why = "there is no such file" if not path.exists() else "it is not a file"
            print(f"parley: {args[0]}: {why}.", file=sys.stderr)
            return 2
        from parley.app import main as window_main

        return window_main([f"--open-experiment={path.resolve()}", *args[1:]])
    if not args or (args[0].startswith("-") and args[0] not in _COMMAND_OPTIONS):
        from parley.app import main as window_main

        return window_main(args)
    from parley.commands import main as commands_main

    return commands_main(args)
