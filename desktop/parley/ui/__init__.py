"""The PySide6 window: thin widgets over `parley.core`. The only package importing Qt/qasync."""
