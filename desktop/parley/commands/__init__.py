"""The `parley` scripting commands: `ask`, `providers`, `models`, `history`, `export`,
`import`, `inspect`, `replay` and `sweep` (and `--help` / `--version`). `parley.cli` sends
everything else to the window. Nothing here imports Qt, so scripting stays light."""

from parley.commands.main import build_parser, main

__all__ = ["build_parser", "main"]
