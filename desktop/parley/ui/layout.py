"""The main window's layout, shared by the first frame and the full window.

`build_layout` makes the top bar, the sidebar, the centre column (system prompt, banner, chat,
composer) and the splitter with a slot for the parameter panel. The first frame (`parley.ui.boot`)
uses it with a placeholder panel before anything heavy is loaded, and `MainWindow` with the real
panel, so the window looks the same when the full window takes over. Qt and light modules only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from PySide6.QtCore import QSignalBlocker, QSize
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from parley.ui import theme
from parley.ui.chatview import ChatView
from parley.ui.composer import Composer
from parley.ui.lightqt import push_button, set_enum_properties
from parley.ui.menus import Menus, build_menus
from parley.ui.sidebar import Sidebar

SPLITTER_SIZES = (250, 700, 330)


# --- small widgets --------------------------------------------------------------------------


class Banner(QFrame):
    """A message across the top of the chat with up to three actions (store errors, notices)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        set_enum_properties(
            self.label, textFormat="PlainText", textInteractionFlags="TextSelectableByMouse"
        )
        self._buttons: list[QPushButton] = []
        self._row = QHBoxLayout()
        self._row.addStretch(1)
        close = QToolButton(self)
        close.setText("✕")
        close.setAccessibleName("Dismiss message")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        top = QHBoxLayout()
        top.addWidget(self.label, 1)
        close_column = QVBoxLayout()  # the button at the top, as the text grows
        close_column.addWidget(close)
        close_column.addStretch(1)
        top.addLayout(close_column)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 6, 6, 6)
        lay.addLayout(top)
        lay.addLayout(self._row)
        self.hide()

    def show_message(
        self, text: str, actions: Sequence[tuple[str, Callable[[], object]]] = ()
    ) -> None:
        for b in self._buttons:
            b.deleteLater()
        self._buttons = []
        self.label.setText(text)
        self.setAccessibleName(text)
        for title, callback in actions:
            b = QPushButton(title, self)
            b.setAccessibleName(title)
            b.clicked.connect(lambda _=False, cb=callback: (self.hide(), cb()))
            self._row.addWidget(b)
            self._buttons.append(b)
        self.show()

    def action_titles(self) -> list[str]:
        return [b.text() for b in self._buttons]

    def trigger(self, title: str) -> None:
        for b in self._buttons:
            if b.text() == title:
                b.click()
                return
        raise KeyError(title)


class SystemPromptBox(QWidget):
    """The conversation's system prompt: one summary line, expanding to an editor."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.toggle = QToolButton(self)
        theme.style_link_button(self.toggle, hand_cursor=False)  # MainWindow adds the hand
        self.toggle.setCheckable(True)
        set_enum_properties(
            self.toggle, toolButtonStyle="ToolButtonTextBesideIcon", arrowType="RightArrow"
        )
        self.toggle.setAccessibleName("Show system prompt")
        self.toggle.toggled.connect(self._toggled)
        self.edit = QPlainTextEdit(self)
        self.edit.setAccessibleName("System prompt")
        self.edit.setPlaceholderText("Instructions for the model in this conversation (optional)")
        self.edit.setTabChangesFocus(True)
        self.edit.setMaximumHeight(110)
        self.edit.hide()
        self.edit.textChanged.connect(self._summarise)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 4, 12, 0)
        lay.setSpacing(2)
        row = QHBoxLayout()
        row.addWidget(self.toggle)
        row.addStretch(1)
        lay.addLayout(row)
        lay.addWidget(self.edit)
        self._summarise()

    def _toggled(self, on: bool) -> None:
        self.edit.setVisible(on)
        set_enum_properties(self.toggle, arrowType="DownArrow" if on else "RightArrow")
        if on:
            self.edit.setFocus()

    def _summarise(self) -> None:
        text = " ".join(self.text().split())
        if not text:
            self.toggle.setText("System prompt: none")
        else:
            self.toggle.setText(f"System prompt: {text[:70]}{'…' if len(text) > 70 else ''}")

    def text(self) -> str:
        return self.edit.toPlainText()

    def set_text(self, text: str) -> None:
        with QSignalBlocker(self.edit):
            self.edit.setPlainText(text)
        self._summarise()


class TopBar(QWidget):
    """Provider, model (+ details), preset; keys, settings and the panel toggle; under them a
    word-wrapped notice line for what the bar has to say (a model list that failed, a hint).

    The bar fits a narrow window: its minimum width leaves out the "Provider", "Model" and
    "Preset" captions, the model details and the Settings button (also in the Settings menu,
    Ctrl+,), which are shown again once there is room for them.
    """

    # The pickers' least widths in a narrow window (their contents show whole when there is room).
    PROVIDER_MIN = 96
    MODEL_MIN = 150
    PRESET_MIN = 96
    ROOM_TO_SPARE = 200

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("topBar")
        outer = self._outer = QVBoxLayout(self)
        outer.setContentsMargins(10, 6, 10, 6)
        outer.setSpacing(4)
        bar = self._bar = QHBoxLayout()
        bar.setSpacing(6)
        outer.addLayout(bar)

        self.provider_combo = QComboBox(self)
        self.provider_combo.setAccessibleName("Provider")
        self.provider_combo.setToolTip("Provider (Ctrl+K to switch quickly)")
        self.provider_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.provider_combo.setMinimumWidth(self.PROVIDER_MIN)

        self.model_combo = QComboBox(self)
        self.model_combo.setObjectName("modelCombo")
        self.model_combo.setAccessibleName("Model")
        self.model_combo.setToolTip("Model (type to search, or any id)")
        self.model_combo.setEditable(True)
        self.model_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.model_combo.setMinimumWidth(self.MODEL_MIN)
        self.model_combo.setMaximumWidth(420)
        self.model_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.model_combo.setMaxVisibleItems(20)
        self.model_combo.lineEdit().setPlaceholderText("Model (type to search, or any id)")

        self.refresh_models_button = QToolButton(self)
        self.refresh_models_button.setText("⟳")
        self.refresh_models_button.setAccessibleName("Refresh the model list")
        self.refresh_models_button.setToolTip("Fetch the provider's model list again")
        self.refresh_models_button.setAutoRaise(True)

        self.model_info = QLabel(self)
        self.model_info.setObjectName("modelInfo")
        self.model_info.setAccessibleName("Model details")
        self.model_info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        theme.tag(self.model_info, text="muted")

        self.preset_combo = QComboBox(self)
        self.preset_combo.setAccessibleName("Preset")
        self.preset_combo.setToolTip("Apply a saved parameter set")
        self.preset_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.preset_combo.setMinimumWidth(self.PRESET_MIN)

        self.keys_button = push_button("Keys…", self)
        self.keys_button.setAccessibleName("Keys and providers")
        self.keys_button.setToolTip("API keys, base URLs and your own providers")
        self.settings_button = push_button("Settings…", self)
        self.settings_button.setAccessibleName("Settings")
        self.panel_button = push_button("Parameters", self)
        self.panel_button.setAccessibleName("Show parameter panel")
        self.panel_button.setCheckable(True)
        self.panel_button.setToolTip("Show or hide the parameter panel")

        self._captions: list[QLabel] = []
        for label, widget in (("Provider", self.provider_combo), ("Model", self.model_combo)):
            lbl = QLabel(label, self)
            lbl.setBuddy(widget)
            self._captions.append(lbl)
            bar.addWidget(lbl)
            bar.addWidget(widget, 2 if widget is self.model_combo else 0)
        bar.addWidget(self.refresh_models_button)
        bar.addWidget(self.model_info, 1)
        preset_label = QLabel("Preset", self)
        preset_label.setBuddy(self.preset_combo)
        self._captions.append(preset_label)
        bar.addWidget(preset_label)
        bar.addWidget(self.preset_combo)
        bar.addSpacing(8)
        bar.addWidget(self.keys_button)
        bar.addWidget(self.settings_button)
        bar.addWidget(self.panel_button)

        self.notice = QLabel(self)
        self.notice.setObjectName("topNotice")
        self.notice.setAccessibleName("Notice")
        self.notice.setWordWrap(True)
        set_enum_properties(
            self.notice, textFormat="PlainText", textInteractionFlags="TextSelectableByMouse"
        )
        self.notice.hide()
        outer.addWidget(self.notice)
        self._optional: list[QWidget] = [*self._captions, self.settings_button]

    def set_notice(self, text: str) -> None:
        """Say something under the bar, wrapped, whole ("" hides the line)."""
        self.notice.setText(text)
        self.notice.setAccessibleDescription(text)
        self.notice.setVisible(bool(text))

    def notice_text(self) -> str:
        return self.notice.text() if self.notice.isVisibleTo(self) else ""

    def _least_width(self, *, optional: bool) -> int:
        """The row's least width, with or without the parts a narrow window leaves out."""
        widgets = [
            self.provider_combo,
            self.model_combo,
            self.refresh_models_button,
            self.preset_combo,
            self.keys_button,
            self.panel_button,
        ]
        if optional:
            widgets += self._optional
        spacing = self._bar.spacing()
        # As layouts count them: an explicit minimum width wins over the widget's hint.
        width = sum(w.minimumWidth() or w.minimumSizeHint().width() for w in widgets)
        width += spacing * len(widgets) + 8  # the gap before the buttons
        m = self._outer.contentsMargins()
        return width + m.left() + m.right()

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(self._least_width(optional=False), hint.height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        # Captions back only with room for them and a model field wide enough to read.
        roomy = event.size().width() >= self._least_width(optional=True) + self.ROOM_TO_SPARE
        for w in self._optional:
            if w.isVisibleTo(self) != roomy:
                w.setVisible(roomy)

    def is_compact(self) -> bool:
        return not self.settings_button.isVisibleTo(self)


class WindowParts(NamedTuple):
    top_bar: TopBar
    top_rule: QFrame
    sidebar: Sidebar
    system_prompt: SystemPromptBox
    banner: Banner
    chat: ChatView
    composer: Composer
    panel: QWidget
    splitter: QSplitter
    menus: Menus


def build_layout(window: QMainWindow, panel: QWidget, *, panel_visible: bool) -> WindowParts:
    """Make the window's parts around `panel` and set them as its central widget."""
    menus = build_menus(window)
    top = TopBar(window)
    sidebar = Sidebar(window)
    sidebar.setMinimumWidth(180)
    centre = QWidget(window)
    centre.setObjectName("centre")
    col = QVBoxLayout(centre)
    col.setContentsMargins(0, 0, 0, 0)
    col.setSpacing(0)
    system_prompt = SystemPromptBox(centre)
    banner = Banner(centre)
    chat = ChatView(centre)
    composer = Composer(centre)
    col.addWidget(system_prompt)
    col.addWidget(banner)
    col.addWidget(chat, 1)
    col.addWidget(composer)

    panel.setMinimumWidth(240)
    # No arguments: PySide would check a first argument against its (Qt.Orientation, parent)
    # overload, which makes the whole `Qt` namespace (see lightqt). Horizontal by default.
    splitter = QSplitter()
    splitter.setObjectName("mainSplitter")
    splitter.addWidget(sidebar)
    splitter.addWidget(centre)
    splitter.addWidget(panel)
    splitter.setStretchFactor(0, 0)
    splitter.setStretchFactor(1, 1)
    splitter.setStretchFactor(2, 0)
    splitter.setCollapsible(1, False)
    splitter.setSizes(list(SPLITTER_SIZES))
    splitter.setHandleWidth(1)

    root = QWidget(window)
    rl = QVBoxLayout(root)
    rl.setContentsMargins(0, 0, 0, 0)
    rl.setSpacing(0)
    rl.addWidget(top)
    rule = QFrame(root)
    rule.setObjectName("topRule")
    rule.setFrameShape(QFrame.Shape.HLine)
    rule.setFrameShadow(QFrame.Shadow.Plain)
    rl.addWidget(rule)
    rl.addWidget(splitter, 1)
    window.setCentralWidget(root)

    top.panel_button.setChecked(panel_visible)
    panel.setVisible(panel_visible)
    # The View menu's entry and the bar's button are one switch.
    menus.parameters.setChecked(panel_visible)
    top.panel_button.toggled.connect(menus.parameters.setChecked)
    menus.parameters.toggled.connect(top.panel_button.setChecked)
    parts = WindowParts(
        top, rule, sidebar, system_prompt, banner, chat, composer, panel, splitter, menus
    )
    apply_local_style(parts)
    return parts


def apply_local_style(parts: WindowParts) -> None:
    # Style sheets go on the small parts, never on the window: a sheet on an ancestor makes
    # Qt re-polish every message widget of the chat against it.
    c = theme.colors()
    parts.top_bar.setStyleSheet(
        f"QWidget#topBar {{ background: {c.window}; }}QLabel#modelInfo {{ color: {c.muted}; }}"
        f"QLabel#topNotice {{ color: {c.warn_text}; }}"
    )
    parts.top_rule.setStyleSheet(f"QFrame#topRule {{ color: {c.card_border}; }}")
    parts.sidebar.setStyleSheet(
        f"""
        QWidget#sidebar {{ background: {c.window}; }}
        QListWidget#conversationList {{ background: {c.window}; border: none; }}
        QListWidget#conversationList::item {{ padding: 6px 4px; border-radius: 6px; }}
        QListWidget#conversationList::item:selected {{
            background: {c.user_card}; color: {c.text}; }}
        QFrame#undoBar {{ background: {c.badge_bg}; border-radius: 6px; }}
        """
    )
    parts.banner.setStyleSheet(
        f"QFrame#banner {{ background: {c.warn_bg}; border-bottom: 1px solid "
        f"{c.card_border}; }} QFrame#banner QLabel {{ color: {c.warn_text}; }}"
    )
