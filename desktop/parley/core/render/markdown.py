"""Markdown for model output, rendered as safe HTML for Qt's rich-text engine.

Rendered as chat clients do: a single newline is a line break, bare URLs (and `www.` names) are
links, tables, task lists (`- [ ]`, `- [x]`) and LaTeX math (`$…$`, `$$…$$`).

Model output is untrusted: raw HTML is escaped (markdown-it with `html=False`), images are never
loaded (they become a visible "[image: alt](url)" text with a link), and only http(s)/mailto links
are kept as links. Code blocks are highlighted with Pygments inline styles (Qt's rich text has no
CSS classes worth relying on), wrap their long lines, and carry a `parley-copy:<n>` anchor;
`Rendered.code_blocks[n]` holds the raw code the anchor copies. Math becomes an image whose source
is a `parley-math:` URL holding the TeX (see `math_source`): the view typesets it (off its thread)
and shows the TeX as code until then; nothing is fetched.

`IncrementalMarkdown` serves streaming: it splits the growing text into a prefix of finished
blocks, rendered once and kept, and an unfinished tail that is re-rendered on each update. Finished
blocks are top-level blocks and, inside a long list, its finished items.
"""

from __future__ import annotations

import html
import re
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
MATH_SCHEME = "parley-math"
SAFE_LINK_SCHEMES = ("http://", "https://", "mailto:")
# Names without a scheme become links only with these endings: file names such as README.md or
# setup.py would otherwise be taken for domains (.md and .py are country domains).
LINK_TLDS = "com org net edu gov int mil io dev app ai info biz co me tv eu uk us ca de fr nl ch"


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


def math_url(tex: str, *, display: bool, dark: bool) -> str:
    """The image source standing for a formula: its TeX, display or inline, and the theme."""
    from urllib.parse import quote

    mode = "display" if display else "inline"
    return f"{MATH_SCHEME}:{'dark' if dark else 'light'}/{mode}/{quote(tex, safe='')}"


@dataclass(frozen=True)
class MathSource:
    tex: str
    display: bool
    dark: bool


def math_source(url: str) -> MathSource | None:
    """The formula a `math_url` stands for; None for anything else."""
    from urllib.parse import unquote

    prefix = f"{MATH_SCHEME}:"
    if not url.startswith(prefix):
        return None
    theme, _, rest = url[len(prefix) :].partition("/")
    mode, sep, quoted = rest.partition("/")
    if not sep or theme not in ("dark", "light") or mode not in ("display", "inline"):
        return None
    return MathSource(unquote(quoted), mode == "display", theme == "dark")


def _math_html(tex: str, *, display: bool, dark: bool) -> str:
    url = math_url(tex.strip(), display=display, dark=dark)
    return f'<img src="{url}" style="vertical-align: middle" />'


def _code_table(colors: CodeColors, label: str, index: int, body_html: str) -> str:
    body_html = body_html or "&nbsp;"  # Qt drops an empty <pre> inconsistently
    return (
        f'<table width="100%" cellspacing="0" cellpadding="6" '
        f'style="background-color:{colors.background}; border: 1px solid {colors.border};'
        f' margin-top: 4px; margin-bottom: 8px;">'
        f'<tr><td style="color:{colors.header};">{label}'
        f' &nbsp; <a href="{COPY_SCHEME}:{index}">Copy</a></td></tr>'
        f'<tr><td><pre style="white-space: pre-wrap;">{body_html}</pre></td></tr></table>\n'
    )


def _make_parser() -> MarkdownIt:
    from markdown_it import MarkdownIt
    from markdown_it.renderer import RendererHTML
    from markdown_it.rules_inline import StateInline
    from mdit_py_plugins.dollarmath import dollarmath_plugin
    from mdit_py_plugins.dollarmath.index import math_inline_dollar
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

        def list_item_open(
            self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
        ) -> str:
            # A task item: Qt's rich text draws a checkbox for these classes.
            token = tokens[idx]
            token.attrs.clear()
            if token.meta and "checked" in token.meta:
                token.attrSet("class", "checked" if token.meta["checked"] else "unchecked")
            out = self.renderToken(tokens, idx, options, env)
            if idx + 1 < len(tokens) and tokens[idx + 1].type != "paragraph_open":
                # Qt drops an item that does not start with text (empty, or a nested list or
                # code first): its bullet would be missing.
                out += "&nbsp;"
            return out

        def _list_open(
            self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
        ) -> str:
            # Only an ordered list's start is kept (the task-list class means nothing to Qt, and
            # a list's opening must not depend on items that come later while streaming).
            token = tokens[idx]
            start = token.attrGet("start")
            token.attrs.clear()
            if start is not None:
                token.attrSet("start", start)
            return self.renderToken(tokens, idx, options, env)

        def bullet_list_open(
            self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
        ) -> str:
            return self._list_open(tokens, idx, options, env)

        def ordered_list_open(
            self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
        ) -> str:
            return self._list_open(tokens, idx, options, env)

        def html_inline(
            self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
        ) -> str:
            return html.escape(tokens[idx].content)  # never produced with html=False; inert

        def html_block(
            self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
        ) -> str:
            return f"<p>{html.escape(tokens[idx].content)}</p>\n"

        def math_inline(
            self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
        ) -> str:
            return _math_html(tokens[idx].content, display=False, dark=bool(env.get("parley_dark")))

        def math_inline_double(
            self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
        ) -> str:
            return _math_html(tokens[idx].content, display=True, dark=bool(env.get("parley_dark")))

        def math_block(
            self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
        ) -> str:
            img = _math_html(tokens[idx].content, display=True, dark=bool(env.get("parley_dark")))
            return f'<p align="center">{img}</p>\n'

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
        {"html": False, "linkify": True, "breaks": True, "typographer": False, "tasklists": True},
        renderer_cls=_SafeRenderer,
    )
    md.enable(["table", "strikethrough", "linkify"])
    assert md.linkify is not None  # linkify-it-py is installed
    md.linkify.tlds(LINK_TLDS.split(), False)
    # Pandoc's rule for inline math: no space inside the dollars and no digit after the closing
    # one, so prices ("$5 and $10") stay text.
    # As in LaTeX and GitHub, a display formula has no blank line (which also bounds how far
    # back a closing `$$` can reach while streaming, see `_analyse`).
    dollarmath_plugin(
        md,
        allow_labels=False,
        allow_space=False,
        allow_digits=False,
        allow_blank_lines=False,
        double_inline=True,
    )
    # Code spans bind tighter: `$x$` in code, or a price before one, is never math.
    inline_math = math_inline_dollar(allow_space=False, allow_digits=False, allow_double=True)

    def math_inline(state: StateInline, silent: bool) -> bool:
        start = state.pos
        if not inline_math(state, True):
            return False
        if "`" in state.src[start : state.pos]:
            state.pos = start
            return False
        if not silent:
            state.pos = start
            return inline_math(state, False)
        return True

    md.inline.ruler.at("math_inline", math_inline)
    for rule in ("math_inline", "math_inline_double", "math_block"):
        md.add_render_rule(rule, getattr(_SafeRenderer, rule))
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
    return _render(text, dark=dark, code_start=code_start, references=references)


_LIST_OPENS = ("bullet_list_open", "ordered_list_open")


def _render(
    text: str,
    *,
    dark: bool,
    code_start: int = 0,
    references: dict[str, Any] | None = None,
    continued: bool | None = None,
    left_open: bool | None = None,
) -> Rendered:
    """Render `text`, a piece of a longer text, to safe HTML.

    `continued`: the text starts inside a list opened before it (its first lines are that list's
    next items); the list's opening is left out and its looseness is the given one. `left_open`:
    the text ends inside its last list (more items follow); its closing is left out and its
    looseness is the given one. Pieces rendered so and joined give the HTML of the whole text.
    """
    env: EnvType = {"parley_dark": dark, "parley_code_start": code_start, "parley_code": []}
    if references:
        env["references"] = dict(references)
    md = _parser()
    tokens = md.parse(text, env)
    if left_open is not None and tokens and tokens[-1].level == 0:
        _set_loose(tokens, _opening(tokens, len(tokens) - 1), len(tokens) - 1, left_open)
    if continued is not None and tokens and tokens[0].type in _LIST_OPENS:
        _set_loose(tokens, 0, _closing(tokens, 0), continued)
    if left_open is not None and tokens and tokens[-1].type.endswith("_list_close"):
        tokens.pop()
    if continued is not None and tokens and tokens[0].type in _LIST_OPENS:
        tokens.pop(0)
    out = md.renderer.render(tokens, md.options, env)
    # Qt lays out a table whose last cell is empty differently when more follows; a space in
    # empty cells keeps streamed and one-shot rendering alike. (Text quotes are escaped, so only
    # our own cell tags end in `;">`.)
    out = out.replace(';"></td>', ';">&nbsp;</td>').replace(';"></th>', ';">&nbsp;</th>')
    return Rendered(out, list(env["parley_code"]))


def _closing(tokens: Sequence[Token], start: int) -> int:
    level = tokens[start].level
    for i in range(start + 1, len(tokens)):
        if tokens[i].level == level and tokens[i].nesting == -1:
            return i
    return len(tokens) - 1


def _opening(tokens: Sequence[Token], end: int) -> int:
    level = tokens[end].level
    for i in range(end - 1, -1, -1):
        if tokens[i].level == level and tokens[i].nesting == 1:
            return i
    return 0


def _set_loose(tokens: Sequence[Token], start: int, end: int, loose: bool) -> None:
    """Mark a list's own paragraphs as markdown-it marks those of a loose or a tight list."""
    level = tokens[start].level + 2
    for i in range(start + 1, end - 1):
        if tokens[i].level == level and tokens[i].type == "paragraph_open":
            tokens[i].hidden = tokens[i + 2].hidden = not loose


@dataclass(frozen=True)
class OpenCode:
    """A fenced code block still being written: the tail of a streamed text."""

    lang: str
    code: str
    index: int  # its number among the message's code blocks (the copy anchor)


@dataclass(frozen=True)
class _Item:
    start: int  # first line
    loose: bool  # a blank line between two of its blocks
    gap: bool  # it ends with a blank line (and is more than one line)


@dataclass
class _List:
    """A top-level list of the analysed text."""

    start: int  # first line
    ordered: bool
    items: list[_Item]
    last_block: bool  # nothing follows it

    def loose(self, items: int | None = None, *, gap_after: bool = False) -> bool:
        """markdown-it's looseness of the list made of its first `items` items (all by default):
        an item with a blank line between its blocks, or a blank line ending an item that has a
        next one (`gap_after`: the last counted item has one)."""
        counted = self.items if items is None else self.items[:items]
        ends = counted if gap_after else counted[:-1]
        return any(i.loose for i in counted) or any(i.gap for i in ends)


@dataclass
class _Analysis:
    boundary: int
    refs: dict[str, Any]
    open_fence: tuple[str, str] | None  # (lang, code) when the text ends inside a fence
    first_list: _List | None  # the text's first block, when it is a list
    last_list: _List | None  # the text's last block, when it is a list
    cut_items: int  # > 0: the boundary is inside `last_list`, after this many of its items


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


def _blank(lines: list[str], line: int) -> bool:
    return line >= len(lines) or not lines[line].strip(" \t")


def _item_loose(lines: list[str], start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    """markdown-it's test of one item (its block tokenizer's `tight`): a blank line between the
    start of the item's first block and that of its last, outside its blocks or ending one.
    Blocks without a token (reference definitions) are the item's other non-blank lines."""
    covered = [False] * (end - start)
    ends = set()
    for a, b in spans:
        for line in range(max(a, start), min(b, end)):
            covered[line - start] = True
        ends.add(b - 1)
    block_starts = [a for a, _ in spans]
    for line in range(start, end):
        starts_run = line == start or covered[line - start - 1] or _blank(lines, line - 1)
        if starts_run and not covered[line - start] and not _blank(lines, line):
            block_starts.append(line)
    if len(block_starts) < 2:
        return False
    first, last = min(block_starts), max(block_starts)
    return any(
        _blank(lines, line) and (not covered[line - start] or line in ends)
        for line in range(first + 1, last)
    )


def _list_of(tokens: Sequence[Token], open_idx: int, lines: list[str], last: bool) -> _List:
    opener = tokens[open_idx]
    assert opener.map is not None
    level = opener.level
    items: list[_Item] = []
    i = open_idx + 1
    while i < len(tokens) and not (tokens[i].level == level and tokens[i].nesting == -1):
        tok = tokens[i]
        if tok.type == "list_item_open" and tok.level == level + 1 and tok.map is not None:
            start, end = tok.map
            spans: list[tuple[int, int]] = []
            i += 1
            while not (tokens[i].type == "list_item_close" and tokens[i].level == level + 1):
                child = tokens[i]
                if child.level == level + 2 and child.nesting >= 0 and child.map is not None:
                    spans.append((child.map[0], child.map[1]))
                i += 1
            gap = end - start > 1 and _blank(lines, end - 1)
            items.append(_Item(start, _item_loose(lines, start, end, spans), gap))
        i += 1
    return _List(opener.map[0], opener.type == "ordered_list_open", items, last)


def _analyse(text: str) -> _Analysis:
    """Where the finished blocks of `text` end, its reference definitions, an open fence, and the
    lists it starts and ends with."""
    env: EnvType = {}
    tokens = _block_parser().parse(text, env)
    top = [
        i
        for i, tok in enumerate(tokens)
        if tok.level == 0 and tok.nesting >= 0 and tok.map is not None
    ]
    blocks = [tokens[i] for i in top]
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
    lines: list[str] = text.split("\n") if blocks else []
    opener = _open_math_block(tokens, lines)
    if opener < len(lines):
        line = min(line, max((s for s in starts if s <= opener), default=0))
        if open_fence is not None and line < starts[-1]:
            open_fence = None  # the `$$` may still make a formula of it: not just code
    first_list = last_list = None
    if blocks and blocks[0].type in _LIST_OPENS:
        first_list = _list_of(tokens, top[0], lines, len(blocks) == 1)
    if blocks and blocks[-1].type in _LIST_OPENS:
        last_list = first_list if len(blocks) == 1 else _list_of(tokens, top[-1], lines, True)
    cut_items = 0
    if last_list is not None and len(last_list.items) >= 3:
        # A list item is finished once two more have started after it, as a block is.
        item_line = last_list.items[-2].start
        if item_line > line and all(i.start <= opener for i in last_list.items[:-1]):
            line, cut_items = item_line, len(last_list.items) - 2
    offset = _line_offset(text, line) if line else 0
    if offset is None:
        return _Analysis(0, refs, None, first_list, last_list, 0)
    return _Analysis(offset, refs, open_fence, first_list, last_list, cut_items)


_MATH_OPENER = re.compile(r"[ \t>*+\-\d.)]*\$\$")


def _open_math_block(tokens: Sequence[Token], lines: list[str]) -> int:
    """The first line holding a `$$` that a later line may still close, making a display formula
    of everything from it (no further than the last blank line: a formula has none); the text's
    line count when there is none. The block (or list item) holding that line is unfinished.
    Conservative: any line that starts with `$$` after container marks counts, unless it starts
    a formula already."""
    closed = {t.map[0] for t in tokens if t.type == "math_block" and t.map is not None}
    for line in range(len(lines) - 1, -1, -1):
        if _blank(lines, line) and line < len(lines) - 1:  # the last line may still grow
            break
        if _MATH_OPENER.match(lines[line]) and line not in closed:
            opener = line
            for back in range(line - 1, -1, -1):
                if _blank(lines, back):
                    break
                if _MATH_OPENER.match(lines[back]) and back not in closed:
                    opener = back
            return opener
    return len(lines)


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
    """The length of the prefix of `text` made of finished blocks.

    A block is finished once two more top-level blocks have started after it: the last block may
    still grow (or change kind, e.g. a paragraph becoming a table), and the one before it may still
    absorb the last one (a list gaining another item). A closed code fence is finished as soon as
    anything follows it, and an open fence finishes everything before it. In a list that is the
    last block, an item is finished once two more items have started after it. Rendering the
    finished prefix alone (a list left open, see `_render`) gives the same HTML as rendering it as
    part of the whole text.
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
        f' margin-bottom: 0px; white-space: pre-wrap;">{body}</pre>\n'
    )


_PLACEHOLDER = "\u2060"  # a word joiner: an item with no visible text


@dataclass
class _OpenList:
    """The list the finished part ends inside (its next items are in the tail)."""

    ordered: bool
    loose: bool  # as its finished items were rendered
    settled_loose: bool  # what its finished items, and the gap after each, make it
    text_start: int  # where it starts in the text, its HTML and its code blocks
    html_start: int
    codes_start: int

    def _item(self) -> str:
        if self.loose:
            return f"<li>\n<p>{_PLACEHOLDER}</p>\n</li>\n"
        return f"<li>{_PLACEHOLDER}</li>\n"

    def lead(self) -> str:
        """HTML before a piece that continues the list, for it to parse as it does in the whole
        text (its first item a middle one): the list's opening and a placeholder item."""
        return ("<ol>\n" if self.ordered else "<ul>\n") + self._item()

    def trail(self) -> str:
        """HTML after a piece that ends inside the list: a placeholder item and its closing."""
        return self._item() + ("</ol>\n" if self.ordered else "</ul>\n")


@dataclass
class Update:
    """What changed since the previous `IncrementalMarkdown.update`.

    Inside a long list the finished part can end, and the tail begin, between two items; such
    HTML is not whole on its own. A view that parses each piece by itself puts `stable_lead`
    before `stable_html` and `stable_trail` after it (and `tail_lead` before `tail_html`), and
    takes out the placeholder items they add (one item, of a word joiner, on the joining side),
    joining the list that a lead starts to the one that the previous trail ended.
    """

    stable_html: str  # newly finished blocks, to append after the previous stable HTML
    replace_all: bool  # True: `stable_html` is the whole stable part, repaint everything
    open_code: OpenCode | None  # the tail is just this unfinished code block
    _owner: IncrementalMarkdown
    stable_lead: str = ""
    stable_trail: str = ""
    tail_lead: str = ""

    @property
    def tail_html(self) -> str:
        """The whole unfinished tail (rendered on demand), replacing the previous tail."""
        return self._owner.tail_html


def _normalize(text: str) -> str:
    # As markdown-it does before parsing: its line numbers then match the text's "\n"s.
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


class IncrementalMarkdown:
    """Renders a growing text, re-rendering only the unfinished tail on each update.

    Reference-style link definitions may come after their use; when a new one appears, the
    finished part is rendered again (`Update.replace_all`), so the result always equals
    `render_markdown(text)`. So it is when a list whose finished items were rendered tight
    becomes loose (or back): the list is rendered again from its start. An unfinished code block
    at the end is reported as `Update.open_code` so a view can append its new lines instead of
    re-rendering it.
    """

    def __init__(self, *, dark: bool = False) -> None:
        self.dark = dark
        self.reset()

    def reset(self) -> None:
        self.text = ""
        self._src = ""
        self.stable_len = 0
        self.stable_html = ""
        self._tail_text = ""
        self._tail_html: str | None = ""
        self._stable_codes: list[str] = []
        self._tail_codes: list[str] = []
        self._stable_refs: dict[str, Any] = {}
        self._refs: dict[str, Any] = {}
        self._list: _OpenList | None = None

    @property
    def code_blocks(self) -> list[str]:
        return self._stable_codes + self._tail_codes

    @property
    def tail_html(self) -> str:
        if self._tail_html is None:
            self._tail_html = self._render_tail().html
        return self._tail_html

    @property
    def html(self) -> str:
        return self.stable_html + self.tail_html

    def _render_tail(self) -> Rendered:
        return _render(
            self._tail_text,
            dark=self.dark,
            code_start=len(self._stable_codes),
            references=self._refs,
            continued=self._list.loose if self._list is not None else None,
        )

    def _rewind_list(self) -> None:
        """Drop the open list's finished items: it is rendered again from its start."""
        assert self._list is not None
        self.stable_len = self._list.text_start
        self.stable_html = self.stable_html[: self._list.html_start]
        del self._stable_codes[self._list.codes_start :]
        self._list = None

    def _render_stable_again(self, refs: dict[str, Any]) -> None:
        src, open_list = self._src, self._list
        split = open_list.text_start if open_list is not None else self.stable_len
        before = _render(src[:split], dark=self.dark, references=refs)
        self.stable_html, self._stable_codes = before.html, before.code_blocks
        if open_list is not None:
            rest = _render(
                src[split : self.stable_len],
                dark=self.dark,
                code_start=len(self._stable_codes),
                references=refs,
                left_open=open_list.loose,
            )
            open_list.html_start = len(self.stable_html)
            self.stable_html += rest.html
            self._stable_codes.extend(rest.code_blocks)

    def _analyse_tail(self) -> tuple[_Analysis, bool | None, bool]:
        """The tail's analysis, the open list's looseness (None: no list is open), and whether
        the open list had to be rendered again from its start: the tail changed its looseness
        from the one its finished items were rendered with (or, unexpectedly, does not go on
        with it)."""
        found = _analyse(self._src[self.stable_len :])
        if self._list is None:
            return found, None, False
        first = found.first_list
        if first is not None and first.ordered == self._list.ordered:
            loose = self._list.settled_loose or first.loose()
            if loose == self._list.loose:
                return found, loose, False
        self._rewind_list()
        return _analyse(self._src[self.stable_len :]), None, True

    def update(self, text: str) -> Update:
        """Take the whole text so far (it normally only grows) and say what to repaint."""
        replace_all = False
        src = _normalize(text)
        if not src.startswith(self._src[: self.stable_len]):
            self.reset()
            replace_all = True
        self.text, self._src = text, src
        found, continued, rewound = self._analyse_tail()
        replace_all = replace_all or rewound
        tail = src[self.stable_len :]
        refs = dict(self._stable_refs)
        for label, ref in found.refs.items():
            refs.setdefault(label, ref)
        if refs != self._refs and self.stable_len:
            # A definition arrived after text that may use it: render the finished part again.
            self._render_stable_again(refs)
            replace_all = True
        self._refs = refs
        new_stable = ""
        lead = self._list.lead() if self._list is not None else ""
        cut = found.boundary
        if cut:
            finished = tail[:cut]
            if "]:" in finished:  # only then can it define references
                for label, ref in _analyse(finished).refs.items():
                    self._stable_refs.setdefault(label, ref)
            new_stable = self._settle(finished, found, continued, refs)
            tail = tail[cut:]
        self._tail_text = tail
        self._tail_html = None
        open_code = None
        if found.open_fence is not None:
            lang, code = found.open_fence
            open_code = OpenCode(lang, code, len(self._stable_codes))
            self._tail_codes = [code]
        else:
            rest = self._render_tail()
            self._tail_codes = rest.code_blocks
            self._tail_html = rest.html
        trail = self._list.trail() if self._list is not None else ""
        tail_lead = self._list.lead() if self._list is not None else ""
        if replace_all:
            return Update(self.stable_html, True, open_code, self, "", trail, tail_lead)
        return Update(new_stable, False, open_code, self, lead if cut else "", trail, tail_lead)

    def _settle(
        self, finished: str, found: _Analysis, continued: bool | None, refs: dict[str, Any]
    ) -> str:
        """Render the newly finished text, keep it, and return its HTML."""
        pieces: list[tuple[str, bool | None, bool | None]] = []
        new_list: _OpenList | None = None
        if found.cut_items:
            last = found.last_list
            assert last is not None
            same = last is found.first_list and self._list is not None
            list_start = _line_offset(finished, last.start) or 0
            if same:
                assert self._list is not None and continued is not None
                self._list.settled_loose = self._list.settled_loose or last.loose(
                    found.cut_items, gap_after=True
                )
                pieces.append((finished, continued, continued))
            else:
                loose = last.loose()
                if list_start:
                    pieces.append((finished[:list_start], continued, None))
                pieces.append((finished[list_start:], None, loose))
                new_list = _OpenList(
                    last.ordered,
                    loose,
                    last.loose(found.cut_items, gap_after=True),
                    self.stable_len + list_start,
                    0,
                    0,
                )
        else:
            pieces.append((finished, continued, None))
            self._list = None
        html_parts: list[str] = []
        for piece, cont, left in pieces:
            if new_list is not None and left is not None:
                new_list.html_start = len(self.stable_html) + sum(map(len, html_parts))
                new_list.codes_start = len(self._stable_codes)
            done = _render(
                piece,
                dark=self.dark,
                code_start=len(self._stable_codes),
                references=refs,
                continued=cont,
                left_open=left,
            )
            html_parts.append(done.html)
            self._stable_codes.extend(done.code_blocks)
        if new_list is not None:
            self._list = new_list
        new_html = "".join(html_parts)
        self.stable_html += new_html
        self.stable_len += len(finished)
        return new_html


def warm_up(languages: Sequence[str] = ("python", "javascript", "bash", "json")) -> None:
    """Import the Markdown rules and the common Pygments lexers ahead of the first answer (the
    first code block of a language otherwise costs a one-off import of tens of ms mid-stream).
    Call it when the window is idle after start-up."""
    render_markdown("".join(f"```{lang}\nx\n```\n\n" for lang in languages) + "| a |\n|---|\n")
