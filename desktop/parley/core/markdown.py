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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Imported when first rendering (markdown-it and Pygments cost ~50 ms at start-up).
    from markdown_it import MarkdownIt
    from markdown_it.token import Token
    from markdown_it.utils import EnvType, OptionsDict
    from pygments.formatters import HtmlFormatter

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


def _code_table(colors: CodeColors, label: str, index: int, body_html: str) -> str:
    body_html = body_html or "&nbsp;"  # Qt drops an empty <pre> inconsistently
    return (
        f'<table width="100%" cellspacing="0" cellpadding="6" '
        f'style="background-color:{colors.background}; border: 1px solid {colors.border};'
        f' margin-top: 4px; margin-bottom: 8px;">'
        f'<tr><td style="color:{colors.header};">{label}'
        f' &nbsp; <a href="{COPY_SCHEME}:{index}">Copy</a></td></tr>'
        f"<tr><td><pre>{body_html}</pre></td></tr></table>\n"
    )


def _make_parser() -> MarkdownIt:
    from markdown_it import MarkdownIt
    from markdown_it.renderer import RendererHTML
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name
    from pygments.lexers.special import TextLexer
    from pygments.util import ClassNotFound

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
            label = html.escape(lang) if lang else "code"
            return _code_table(colors, label, index, body.removesuffix("\n"))

        def fence(
            self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
        ) -> str:
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

        def image(
            self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
        ) -> str:
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

        def th_open(
            self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
        ) -> str:
            return self._cell_open(tokens, idx, options, env)

        def td_open(
            self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
        ) -> str:
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

    md = MarkdownIt(
        "commonmark",
        {"html": False, "linkify": False, "typographer": False},
        renderer_cls=_SafeRenderer,
    )
    md.enable(["table", "strikethrough"])
    return md


_md: MarkdownIt | None = None
_blocks_md: MarkdownIt | None = None


def _parser() -> MarkdownIt:
    global _md
    if _md is None:
        _md = _make_parser()
    return _md


def _block_parser() -> MarkdownIt:
    """The same block rules without inline parsing: enough to find blocks and references."""
    global _blocks_md
    if _blocks_md is None:
        _blocks_md = _make_parser()
        _blocks_md.disable(["inline", "text_join"])
    return _blocks_md


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
    out = _parser().render(text, env)
    # Qt lays out a table whose last cell is empty differently when more follows; a space in
    # empty cells keeps streamed and one-shot rendering alike. (Text quotes are escaped, so only
    # our own cell tags end in `;">`.)
    out = out.replace(';"></td>', ';">&nbsp;</td>').replace(';"></th>', ';">&nbsp;</th>')
    return Rendered(out, list(env["parley_code"]))


@dataclass(frozen=True)
class OpenCode:
    """A fenced code block still being written: the tail of a streamed text."""

    lang: str
    code: str
    index: int  # its number among the message's code blocks (the copy anchor)


@dataclass
class _Analysis:
    boundary: int
    refs: dict[str, Any]
    open_fence: tuple[str, str] | None  # (lang, code) when the text ends inside a fence


def _line_offset(text: str, line: int) -> int | None:
    offset = 0
    for _ in range(line):
        nl = text.find("\n", offset)
        if nl < 0:
            return None
        offset = nl + 1
    return offset


def _fence_lang(info: str) -> str:
    return info.strip().split(maxsplit=1)[0] if info.strip() else ""


def _analyse(text: str) -> _Analysis:
    """Where the finished blocks of `text` end, its reference definitions, and an open fence."""
    env: EnvType = {}
    blocks = [
        tok
        for tok in _block_parser().parse(text, env)
        if tok.level == 0 and tok.nesting >= 0 and tok.map is not None
    ]
    refs: dict[str, Any] = env.get("references", {})
    starts = [b.map[0] for b in blocks if b.map is not None]
    line = starts[-2] if len(starts) >= 3 else 0
    # A fence that has a block after it was closed: it and everything before it are settled.
    for i, b in enumerate(blocks[:-1]):
        if b.type == "fence":
            line = max(line, starts[i + 1])
    open_fence = None
    last = blocks[-1] if blocks else None
    if last is not None and last.type == "fence" and last.map is not None:
        if _fence_closed(text, last):
            line = max(line, last.map[1])
        else:
            # An open fence interrupts whatever came before it and runs to the end.
            line = max(line, starts[-1])
            open_fence = (_fence_lang(last.info), last.content)
    offset = _line_offset(text, line) if line else 0
    if offset is None:
        return _Analysis(0, refs, None)
    return _Analysis(offset, refs, open_fence)


def _fence_closed(text: str, fence: Token) -> bool:
    """Whether the last block, a fence, has its closing line (and the line has ended)."""
    assert fence.map is not None
    lines = text.split("\n")
    last = fence.map[1] - 1
    if last <= fence.map[0] or last >= len(lines) - 1:
        return False  # the closing line is missing or may still grow ("```" -> "```x")
    raw = lines[last]
    closing = raw.strip()
    indent = len(raw) - len(raw.lstrip(" "))
    return indent < 4 and len(closing) >= len(fence.markup) and not closing.strip(fence.markup[0])


def stable_boundary(text: str) -> int:
    """The length of the prefix of `text` made of finished top-level blocks.

    A block is finished once two more top-level blocks have started after it: the last block may
    still grow (or change kind, e.g. a paragraph becoming a table), and the one before it may still
    absorb the last one (a list gaining another item). A closed code fence is finished as soon as
    anything follows it, and an open fence finishes everything before it. Rendering the finished
    prefix alone gives the same HTML as rendering it as part of the whole text.
    """
    return _analyse(text).boundary


def render_open_code(code: OpenCode, *, dark: bool = False) -> str:
    """An unfinished code block: unhighlighted, and as plain blocks rather than a table, so a
    view can append lines without Qt laying out the whole block again. Once the fence closes,
    the block is rendered like any other (highlighted, in its frame)."""
    colors = code_colors(dark)
    label = html.escape(code.lang) if code.lang else "code"
    body = html.escape(code.code.removesuffix("\n"))
    return (
        f'<p style="background-color:{colors.background}; color:{colors.header};'
        f' margin-top: 4px; margin-bottom: 0px;">&nbsp;{label}'
        f' &nbsp; <a href="{COPY_SCHEME}:{code.index}">Copy</a></p>'
        f'<pre style="background-color:{colors.background}; margin-top: 0px;'
        f' margin-bottom: 0px;">{body}</pre>\n'
    )


@dataclass
class Update:
    """What changed since the previous `IncrementalMarkdown.update`."""

    stable_html: str  # newly finished blocks, to append after the previous stable HTML
    replace_all: bool  # True: `stable_html` is the whole stable part, repaint everything
    open_code: OpenCode | None  # the tail is just this unfinished code block
    _owner: IncrementalMarkdown

    @property
    def tail_html(self) -> str:
        """The whole unfinished tail (rendered on demand), replacing the previous tail."""
        return self._owner.tail_html


class IncrementalMarkdown:
    """Renders a growing text, re-rendering only the unfinished tail on each update.

    Reference-style link definitions may come after their use; when a new one appears, the
    finished part is rendered again (`Update.replace_all`), so the result always equals
    `render_markdown(text)`. An unfinished code block at the end is reported as
    `Update.open_code` so a view can append its new lines instead of re-rendering it.
    """

    def __init__(self, *, dark: bool = False) -> None:
        self.dark = dark
        self.reset()

    def reset(self) -> None:
        self.text = ""
        self.stable_len = 0
        self.stable_html = ""
        self._tail_text = ""
        self._tail_html: str | None = ""
        self._stable_codes: list[str] = []
        self._tail_codes: list[str] = []
        self._stable_refs: dict[str, Any] = {}
        self._refs: dict[str, Any] = {}

    @property
    def code_blocks(self) -> list[str]:
        return self._stable_codes + self._tail_codes

    @property
    def tail_html(self) -> str:
        if self._tail_html is None:
            rest = render_markdown(
                self._tail_text,
                dark=self.dark,
                code_start=len(self._stable_codes),
                references=self._refs,
            )
            self._tail_html = rest.html
        return self._tail_html

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
        found = _analyse(tail)
        refs = dict(self._stable_refs)
        for label, ref in found.refs.items():
            refs.setdefault(label, ref)
        if refs != self._refs and self.stable_len:
            # A definition arrived after text that may use it: render the finished part again.
            again = render_markdown(text[: self.stable_len], dark=self.dark, references=refs)
            self.stable_html = again.html
            self._stable_codes = again.code_blocks
            replace_all = True
        self._refs = refs
        new_stable = ""
        cut = found.boundary
        if cut:
            finished = tail[:cut]
            if "]:" in finished:  # only then can it define references
                for label, ref in _analyse(finished).refs.items():
                    self._stable_refs.setdefault(label, ref)
            done = render_markdown(
                finished, dark=self.dark, code_start=len(self._stable_codes), references=refs
            )
            new_stable = done.html
            self.stable_html += new_stable
            self.stable_len += cut
            self._stable_codes.extend(done.code_blocks)
            tail = tail[cut:]
        self._tail_text = tail
        self._tail_html = None
        open_code = None
        if found.open_fence is not None:
            lang, code = found.open_fence
            open_code = OpenCode(lang, code, len(self._stable_codes))
            self._tail_codes = [code]
        else:
            rest = render_markdown(
                tail, dark=self.dark, code_start=len(self._stable_codes), references=refs
            )
            self._tail_codes = rest.code_blocks
            self._tail_html = rest.html
        if replace_all:
            return Update(self.stable_html, True, open_code, self)
        return Update(new_stable, False, open_code, self)


def warm_up(languages: Sequence[str] = ("python", "javascript", "bash", "json")) -> None:
    """Import the Markdown rules and the common Pygments lexers ahead of the first answer (the
    first code block of a language otherwise costs a one-off import of tens of ms mid-stream).
    Call it when the window is idle after start-up."""
    render_markdown("".join(f"```{lang}\nx\n```\n\n" for lang in languages) + "| a |\n|---|\n")
