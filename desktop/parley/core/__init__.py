"""Pure-Python core of Parley. Never imports Qt or httpx (enforced by import-linter)."""
