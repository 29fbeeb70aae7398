"""PyInstaller's entry script: the same `parley` command the wheel installs (parley.cli:main)."""

import sys

from parley.cli import main

if __name__ == "__main__":
    sys.exit(main())
