"""Markdown for model output, rendered as safe HTML for Qt's rich-text engine.

Model output is untrusted: raw HTML is escaped (markdown-it with `html=False`), images are never
loaded (they become a visible "[image: alt](url)" text with a link), and only http(s)/mailto links
are kept as links. Code blocks are highlighted with Pygments inline styles (Qt's rich text has no
CSS classes worth relying on) and carry a `parley-copy:<n>` anchor; `Rendered.code_blocks[n]` holds
the raw code the anchor copies.

`IncrementalMarkdown` serves streaming: it splits the growing text into a prefix of finished
top-level blocks, rendered once and kept, and an unfinished tail that is re-rendered on each update.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.lexers.special import TextLexer
from pygments.util import ClassNotFound

COPY_SCHEME = "parley-copy"
SAFE_LINK_SCHEMES = ("http://", "https://", "mailto:")


@dataclass(frozen=True)
class CodeColors:
    pygments_style: str
    background: str
    border: str
    header: str
    inline_background: str


LIGHT = CodeColors("default", "#f6f8fa", "#d0d7de", "#57606a", "#eff1f3")
DARK = CodeColors("github-dark", "#161b22", "#30363d", "#8b949e", "#2d333b")


def code_colors(dark: bool) -> CodeColors:
    return DARK if dark else LIGHT


@dataclass
class Rendered:
    html: str
    code_blocks: list[str] = field(default_factory=list)


class _SafeRenderer(RendererHTML):
    """markdown-it's HTML renderer with our rules for code, images, links and tables."""

    def __init__(self, parser: Any = None) -> None:
        super().__init__(parser)
        self._formatters: dict[str, HtmlFormatter[str]] = {}

    def _colors(self, env: EnvType) -> CodeColors:
        return DARK if env.get("parley_dark") else LIGHT

    def _formatter(self, style: str) -> HtmlFormatter[str]:
        fmt = self._formatters.get(style)
        if fmt is None:
            fmt = HtmlFormatter(style=style, noclasses=True, nowrap=True)
            self._formatters[style] = fmt
        return fmt

    def _code_block_html(self, code: str, lang: str, env: EnvType) -> str:
        colors = self._colors(env)
        blocks: list[str] = env.setdefault("parley_code", [])
        index = int(env.get("parley_code_start", 0)) + len(blocks)
        blocks.append(code)
        try:
            lexer = get_lexer_by_name(lang) if lang else TextLexer()
        except ClassNotFound:
            lexer = TextLexer()
        body = highlight(code, lexer, self._formatter(colors.pygments_style))
        body = body.removesuffix("\n")
        label = html.escape(lang) if lang else "code"
        return (
            f'<table width="100%" cellspacing="0" cellpadding="6" '
            f'style="background-color:{colors.background}; border: 1px solid {colors.border};'
            f' margin-top: 4px; margin-bottom: 8px;">'
            f'<tr><td style="color:{colors.header};">{label}'
            f' &nbsp; <a href="{COPY_SCHEME}:{index}">Copy</a></td></tr>'
            f"<tr><td><pre>{body}</pre></td></tr></table>\n"
        )

    def fence(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        token = tokens[idx]
        lang = token.info.strip().split(maxsplit=1)[0] if token.info.strip() else ""
        return self._code_block_html(token.content, lang, env)

    def code_block(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return self._code_block_html(tokens[idx].content, "", env)

    def code_inline(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        bg = self._colors(env).inline_background
        content = html.escape(tokens[idx].content)
        return f'<code style="background-color:{bg};">{content}</code>'

    def image(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        token = tokens[idx]
        alt = html.escape(self.renderInlineAsText(token.children or [], options, env))
        src = str(token.attrGet("src") or "")
        if src.startswith(("http://", "https://")):
            url = html.escape(src)
            return f'[image: {alt}](<a href="{url}">{url}</a>)'
        return f"[image: {alt}]"

    def link_open(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        href = str(tokens[idx].attrGet("href") or "")
        if not href.lower().startswith(SAFE_LINK_SCHEMES):
            tokens[idx].attrs.pop("href", None)
            return "<span>"
        return f'<a href="{html.escape(href)}">'

    def link_close(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        # Find the matching opener: a link whose href was dropped renders as a span.
        depth = 0
        for j in range(idx - 1, -1, -1):
            if tokens[j].type == "link_close":
                depth += 1
            elif tokens[j].type == "link_open":
                if depth == 0:
                    return "</a>" if tokens[j].attrGet("href") else "</span>"
                depth -= 1
        return "</a>"

    def _cell_open(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        token = tokens[idx]
        style = str(token.attrGet("style") or "")
        border = self._colors(env).border
        cell = f"border: 1px solid {border}; padding: 3px 8px;"
        token.attrSet("style", f"{style}; {cell}" if style else cell)
        return self.renderToken(tokens, idx, options, env)

    def th_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return self._cell_open(tokens, idx, options, env)

    def td_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return self._cell_open(tokens, idx, options, env)

    def table_open(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        border = self._colors(env).border
        return (
            f'<table border="0" cellspacing="0" cellpadding="0" '
            f'style="border-collapse: collapse; border-color: {border};'
            f' margin-top: 4px; margin-bottom: 8px;">\n'
        )


def _make_parser() -> MarkdownIt:
    md = MarkdownIt(
        "commonmark",
        {"html": False, "linkify": False, "typographer": False},
        renderer_cls=_SafeRenderer,
    )
    md.enable(["table", "strikethrough"])
    return md


_MD = _make_parser()


def render_markdown(
    text: str,
    *,
    dark: bool = False,
    code_start: int = 0,
    references: dict[str, Any] | None = None,
) -> Rendered:
    """Render `text` to safe HTML. Code blocks are numbered from `code_start`."""
    env: EnvType = {"parley_dark": dark, "parley_code_start": code_start, "parley_code": []}
    if references:
        env["references"] = dict(references)
    out = _MD.render(text, env)
    return Rendered(out, list(env["parley_code"]))


def _analyse(text: str) -> tuple[int, dict[str, Any]]:
    """(stable boundary, reference definitions) of `text`, from one parse."""
    env: EnvType = {}
    starts = [
        tok.map[0]
        for tok in _MD.parse(text, env)
        if tok.level == 0 and tok.nesting >= 0 and tok.map is not None
    ]
    refs: dict[str, Any] = env.get("references", {})
    if len(starts) < 3:
        return 0, refs
    offset = 0
    for _ in range(starts[-2]):
        nl = text.find("\n", offset)
        if nl < 0:
            return 0, refs
        offset = nl + 1
    return offset, refs


def stable_boundary(text: str) -> int:
    """The length of the prefix of `text` made of finished top-level blocks.

    A block is finished once two more top-level blocks have started after it: the last block may
    still grow (or change kind, e.g. a paragraph becoming a table), and the one before it may still
    absorb the last one (a list gaining another item). Everything before those two is settled, and
    rendering it alone gives the same HTML as rendering it as part of the whole text.
    """
    return _analyse(text)[0]


@dataclass
class Update:
    """What changed since the previous `IncrementalMarkdown.update`."""

    stable_html: str  # newly finished blocks, to append after the previous stable HTML
    tail_html: str  # the whole unfinished tail, replacing the previous tail
    replace_all: bool = False  # True: `stable_html` is the whole stable part, repaint everything


class IncrementalMarkdown:
    """Renders a growing text, re-rendering only the unfinished tail on each update.

    Reference-style link definitions may come after their use; when a new one appears, the
    finished part is rendered again (`Update.replace_all`), so the result always equals
    `render_markdown(text)`.
    """

    def __init__(self, *, dark: bool = False) -> None:
        self.dark = dark
        self.reset()

    def reset(self) -> None:
        self.text = ""
        self.stable_len = 0
        self.stable_html = ""
        self.tail_html = ""
        self._stable_codes: list[str] = []
        self._tail_codes: list[str] = []
        self._stable_refs: dict[str, Any] = {}
        self._refs: dict[str, Any] = {}

    @property
    def code_blocks(self) -> list[str]:
        return self._stable_codes + self._tail_codes

    @property
    def html(self) -> str:
        return self.stable_html + self.tail_html

    def update(self, text: str) -> Update:
        """Take the whole text so far (it normally only grows) and say what to repaint."""
        replace_all = False
        if not text.startswith(self.text[: self.stable_len]):
            self.reset()
            replace_all = True
        self.text = text
        tail = text[self.stable_len :]
        cut, tail_refs = _analyse(tail)
        refs = dict(self._stable_refs)
        for label, ref in tail_refs.items():
            refs.setdefault(label, ref)
        if refs != self._refs and self.stable_len:
            # A definition arrived after text that may use it: render the finished part again.
            again = render_markdown(text[: self.stable_len], dark=self.dark, references=refs)
            self.stable_html = again.html
            self._stable_codes = again.code_blocks
            replace_all = True
        self._refs = refs
        new_stable = ""
        if cut:
            finished = tail[:cut]
            for label, ref in _analyse(finished)[1].items():
                self._stable_refs.setdefault(label, ref)
            done = render_markdown(
                finished, dark=self.dark, code_start=len(self._stable_codes), references=refs
            )
            new_stable = done.html
            self.stable_html += new_stable
            self.stable_len += cut
            self._stable_codes.extend(done.code_blocks)
            tail = tail[cut:]
        rest = render_markdown(
            tail, dark=self.dark, code_start=len(self._stable_codes), references=refs
        )
        self._tail_codes = rest.code_blocks
        self.tail_html = rest.html
        if replace_all:
            return Update(self.stable_html, rest.html, replace_all=True)
        return Update(new_stable, rest.html)
