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
    if not args or (args[0].startswith("-") and args[0] not in _COMMAND_OPTIONS):
        from parley.app import main as window_main

        return window_main(args)
    from parley.commands import main as commands_main

    return commands_main(args)
