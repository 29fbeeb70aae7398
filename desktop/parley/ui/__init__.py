"""The PySide6 window: thin widgets over parley.core objects."""
