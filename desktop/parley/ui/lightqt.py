"""Qt calls that keep the window's first frame cheap to build.

PySide makes each Qt class, with its Python enums, on first use, and Python's enums are slow to
make. The first frame (`parley.ui.boot`) must appear within 1.5x the time of a bare PySide6 window,
so the widgets it shows avoid what would make classes they do not need:

- the `Qt` namespace: its first use makes all of its ~100 enums (some 35 ms on the project's
  machines, a fifth of a bare window's start). Enum-typed properties are set through Qt's property
  system instead, which takes an enum's key as a string:
  `set_enum_properties(list_widget, horizontalScrollBarPolicy="ScrollBarAlwaysOff")`; modules
  reach `Qt` as `QtCore.Qt` inside the functions that run later;
- `QIcon`: calls with an overload taking an icon (`QPushButton(text, parent)`,
  `QComboBox.addItem(text, data)`) make PySide check the argument against QIcon: `push_button`
  and `add_item` call the overloads without one.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QComboBox, QPushButton, QWidget

# Qt::ItemDataRole values, fixed by Qt's API (the same for every Qt 6).
ACCESSIBLE_TEXT_ROLE = 11
USER_ROLE = 0x0100


def set_enum_properties(obj: QObject, **properties: str) -> None:
    """Set each Qt property to the enum key (or `A|B` flag keys) given; a wrong name or key
    raises instead of being ignored."""
    for name, key in properties.items():
        if not obj.setProperty(name, key):
            raise ValueError(f"{type(obj).__name__} has no enum property {name!r} taking {key!r}")


def push_button(text: str, parent: QWidget | None = None) -> QPushButton:
    button = QPushButton(parent)
    button.setText(text)
    return button


def add_item(combo: QComboBox, text: str, data: Any = None) -> None:
    combo.addItem(text)
    if data is not None:
        combo.setItemData(combo.count() - 1, data)
