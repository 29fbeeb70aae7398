"""The menu bar: File, Edit, View, Settings, Help, with the usual entries and their shortcuts.

`build_menus` makes the menus and their actions, and nothing else: the window connects each
action's `triggered` to the part that does it. The first frame (`parley.ui.boot`) shows the same
menus, disabled, so the bar does not appear (and the window shift) when the full window takes
over. The shortcuts are the actions' own: they show in the menus and in Help → Keyboard
shortcuts.
"""

from __future__ import annotations

from typing import NamedTuple

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu


class Menus(NamedTuple):
    new_chat: QAction
    import_chat: QAction
    export_chat: QAction
    quit: QAction
    find: QAction
    switch_model: QAction
    fork_chat: QAction
    delete_chat: QAction
    parameters: QAction
    lab: QAction
    settings: QAction
    keys: QAction
    shortcuts: QAction
    about: QAction
    sweep: QAction

    def actions(self) -> list[QAction]:
        return list(self)

    def set_enabled(self, on: bool) -> None:
        for action in self.actions():
            action.setEnabled(on)


# Keys handled by widgets rather than menu actions, listed in Help → Keyboard shortcuts.
OTHER_SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Enter (or Ctrl+Enter, see Settings)", "Send the message"),
    ("Shift+Enter", "New line in the message"),
    ("Ctrl+Shift+Enter", "Compare the message in the Lab (every pane answers it)"),
    ("Esc", "Stop the answer being written; cancel an edit"),
    ("Ctrl+Enter (in an edit)", "Save the edited message and send it again"),
    ("F2 (in the chat list)", "Rename the chat"),
    ("Delete (in the chat list)", "Delete the chat (with undo)"),
)


def _action(
    menu: QMenu, text: str, name: str, keys: str | QKeySequence.StandardKey = ""
) -> QAction:
    action = QAction(text, menu)
    action.setObjectName(name)
    if keys:
        # Through the property system: `setShortcut` makes PySide build the whole `Qt` namespace
        # (its overloads take Qt enums), which the first frame avoids (see parley.ui.lightqt).
        action.setProperty("shortcut", QKeySequence(keys))
    menu.addAction(action)
    return action


def build_menus(window: QMainWindow) -> Menus:
    bar = window.menuBar()
    bar.setAccessibleName("Menu bar")
    file = bar.addMenu("&File")
    new_chat = _action(file, "&New chat", "newChat", "Ctrl+N")
    file.addSeparator()
    import_chat = _action(file, "&Import chat…", "importChat", "Ctrl+O")
    export_chat = _action(file, "&Export chat…", "exportChat", "Ctrl+E")
    file.addSeparator()
    quit_ = _action(file, "&Quit", "quit", "Ctrl+Q")

    edit = bar.addMenu("&Edit")
    find = _action(edit, "&Find in chats", "find", "Ctrl+F")
    edit.addSeparator()
    fork_chat = _action(edit, "Fork this chat", "forkChat")
    fork_chat.setToolTip("A new chat with this one's messages so far (the branch shown)")
    delete_chat = _action(edit, "Delete this chat", "deleteChat")

    view = bar.addMenu("&View")
    parameters = _action(view, "&Parameter panel", "parameters", "Ctrl+P")
    parameters.setCheckable(True)
    switch_model = _action(view, "Switch &model…", "switchModel", "Ctrl+K")
    lab = _action(view, "The &Lab: compare, leaderboard", "lab", "Ctrl+L")
    sweep = _action(view, "A &sweep in the Lab…", "sweep", "Ctrl+Shift+L")
    sweep.setToolTip("A grid of parameters, variants and repeats, with checks, run and compared")

    settings_menu = bar.addMenu("&Settings")
    settings = _action(settings_menu, "&Settings…", "settings", "Ctrl+,")
    keys = _action(settings_menu, "&Keys and providers…", "keys")

    help_menu = bar.addMenu("&Help")
    shortcuts = _action(help_menu, "&Keyboard shortcuts", "shortcuts", "F1")
    about = _action(help_menu, "&About Parley", "about")
    return Menus(
        new_chat=new_chat,
        import_chat=import_chat,
        export_chat=export_chat,
        quit=quit_,
        find=find,
        switch_model=switch_model,
        fork_chat=fork_chat,
        delete_chat=delete_chat,
        parameters=parameters,
        lab=lab,
        settings=settings,
        keys=keys,
        shortcuts=shortcuts,
        about=about,
        sweep=sweep,
    )


def shortcut_rows(menus: Menus) -> list[tuple[str, str]]:
    """(keys, what they do) for every shortcut: the menus' own, then the widgets'."""
    rows = []
    for action in menus.actions():
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        if keys:
            rows.append((keys, action.text().replace("&", "").rstrip("…")))
    return rows + list(OTHER_SHORTCUTS)
