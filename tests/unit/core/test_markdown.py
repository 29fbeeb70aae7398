from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from parley.core.render.markdown import (
    IncrementalMarkdown,
    MathSource,
    OpenCode,
    math_source,
    render_markdown,
    render_open_code,
    stable_boundary,
    warm_up,
)

SAMPLE = """# Title

Hello **world** with `inline` code
and a soft break.

| a | b |
|---|--:|
| 1 | 2 |

```python
def f(x):
    return x < 1
```

- one
- two

1. a

2. b
- bullet after ordered

> quote
> more

[ref link][r] and [ok](https://example.com)

[r]: https://example.org/ref

## h2

---

    indented code

    still code
para end
"""


def test_raw_html_is_escaped() -> None:
    out = render_markdown('<script>alert(1)</script>\n\nhi <b onclick="x()">b</b>').html
    assert "<script" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "<b " not in out and "&lt;b onclick" in out


def test_raw_img_tag_is_text_and_markdown_images_are_links_only() -> None:
    out = render_markdown(
        '<img src="http://evil.example/x.png">\n\n![a cat](https://e.com/cat.png "t")'
    ).html
    assert "<img" not in out
    assert "&lt;img src=" in out
    assert '[image: a cat](<a href="https://e.com/cat.png">https://e.com/cat.png</a>)' in out


def test_data_and_relative_images_are_not_linked() -> None:
    out = render_markdown("![dot](data:image/png;base64,AAAA) ![rel](/x.png)").html
    assert "<img" not in out
    assert "[image: dot]" in out and "[image: rel]" in out
    assert "data:image" not in out and 'href="/x.png"' not in out


def test_only_safe_link_schemes_become_anchors() -> None:
    out = render_markdown(
        "[a](https://ok.example) [b](mailto:x@y.z) [c](javascript:alert(1)) "
        "[d](file:///etc/passwd) [e](ftp://x.example/f)"
    ).html
    hrefs = re.findall(r'href="([^"]*)"', out)
    assert hrefs == ["https://ok.example", "mailto:x@y.z"]
    # Model text cannot forge our own copy anchors.
    forged = render_markdown("[copy](parley-copy:0) <parley-copy:1>").html
    assert "href" not in forged


def test_tables_render_with_alignment() -> None:
    out = render_markdown("| a | b |\n|---|--:|\n| 1 | 2 |\n").html
    assert "<table" in out
    assert re.search(r'<th style="border: 1px solid #[0-9a-f]{6}[^"]*">a</th>', out)
    assert re.search(r'<td style="text-align:right; border: [^"]*">2</td>', out)


def test_code_blocks_are_highlighted_numbered_and_kept_raw() -> None:
    text = "```python\ndef f(x):\n    return x < 1\n```\n\n```nosuchlang\n<b>&</b>\n```\n"
    r = render_markdown(text)
    assert r.code_blocks == ["def f(x):\n    return x < 1\n", "<b>&</b>\n"]
    assert 'href="parley-copy:0"' in r.html and 'href="parley-copy:1"' in r.html
    # Pygments inline styles: the keyword is coloured.
    assert re.search(r'<span style="[^"]*color: #[0-9A-Fa-f]+[^"]*">def</span>', r.html)
    # Unknown language: plain, escaped.
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in r.html
    assert render_markdown(text, code_start=5).code_blocks == r.code_blocks
    assert 'href="parley-copy:5"' in render_markdown(text, code_start=5).html


def test_light_and_dark_differ_in_code_colours() -> None:
    text = "```python\nimport os\n```\n"
    light, dark = render_markdown(text).html, render_markdown(text, dark=True).html
    assert light != dark
    assert "#f6f8fa" in light and "#161b22" in dark


def test_stable_boundary_keeps_last_two_blocks_open() -> None:
    assert stable_boundary("one\n\ntwo") == 0
    text = "one\n\ntwo\n\nthree"
    cut = stable_boundary(text)
    assert text[:cut] == "one\n\n"
    # An unclosed fence swallows everything after it and settles everything before it.
    fenced = "a\n\nb\n\n```\ncode\n\nmore\n\nstill"
    assert fenced[: stable_boundary(fenced)] == "a\n\nb\n\n"


def test_code_fences_settle_as_soon_as_they_close() -> None:
    text = "intro\n```py\nx = 1\n```\n"
    assert text[: stable_boundary(text)] == text
    # The closing line may still grow ("```" -> "```x" is not a closing fence): still open.
    assert stable_boundary("intro\n```py\nx = 1\n```") == len("intro\n")


def test_open_fence_is_reported_for_cheap_appending() -> None:
    inc = IncrementalMarkdown()
    up = inc.update("Look:\n\n```python\nfor i in x:\n    pri")
    assert up.open_code == OpenCode("python", "for i in x:\n    pri", 0)
    assert inc.stable_html == render_markdown("Look:\n\n").html
    assert inc.code_blocks == ["for i in x:\n    pri"]
    shown = render_open_code(up.open_code)
    assert "parley-copy:0" in shown and "    pri" in shown and "<span" not in shown
    up = inc.update("Look:\n\n```python\nfor i in x:\n    print(i)\n```\n\nDone")
    assert up.open_code is None
    assert inc.html == render_markdown(inc.text).html


def _check_streaming(text: str, step: int) -> None:
    inc = IncrementalMarkdown()
    stable = ""
    for end in [*range(1, len(text), step), len(text)]:
        up = inc.update(text[:end])
        stable = up.stable_html if up.replace_all else stable + up.stable_html
        full = render_markdown(text[:end])
        assert stable + up.tail_html == full.html, (end, text[:end])
        assert inc.code_blocks == full.code_blocks


def test_incremental_equals_full_render_at_every_step() -> None:
    for step in (1, 3, 17):
        _check_streaming(SAMPLE, step)
    inc = IncrementalMarkdown()
    inc.update(SAMPLE)
    assert inc.stable_len > len(SAMPLE) // 2  # most of it was rendered once and kept


def test_incremental_restarts_when_text_is_replaced() -> None:
    inc = IncrementalMarkdown()
    inc.update("a\n\nb\n\nc\n\nd")
    inc.update("totally different")
    assert inc.html == render_markdown("totally different").html


LINES = st.sampled_from(
    [
        "",
        "",
        "para text",
        "- item",
        "- item",
        "- item",
        "* star",
        "3. third",
        "  para in item",
        "  - nested",
        "    deeper",
        "-",
        "- [ ] task",
        "- [x] done",
        "$$",
        "$x^2$ and $$y$$",
        "  [y]: https://example.org",
        "see https://example.com/a and www.example.org",
        "*emph* and `code`",
        "# heading",
        "===",
        "---",
        "- item",
        "  continued",
        "1. first",
        "2) second",
        "> quote",
        "```",
        "```",
        "```py",
        "````",
        "   ```",
        "    ```",
        "~~~",
        "    indented",
        "| a | b |",
        "|---|---|",
        "| 1 | 2 |",
        "[x]: https://example.com",
        "see [x] now",
        "<div>raw</div>",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(LINES, min_size=1, max_size=24), st.integers(min_value=1, max_value=9))
def test_incremental_equals_full_render_property(lines: list[str], step: int) -> None:
    text = "\n".join(lines)
    inc = IncrementalMarkdown()
    stable = ""
    for end in [*range(1, len(text), step), len(text)]:
        up = inc.update(text[:end])
        stable = up.stable_html if up.replace_all else stable + up.stable_html
        full = render_markdown(text[:end])
        assert stable + up.tail_html == full.html, text[:end]
        assert inc.code_blocks == full.code_blocks


def test_warm_up_loads_lexers() -> None:
    import sys

    sys.modules.pop("pygments.lexers.rust", None)
    warm_up(("rust",))
    assert "pygments.lexers.rust" in sys.modules


def test_a_single_newline_is_a_line_break() -> None:
    out = render_markdown("Roses are red,\nviolets are blue.\n\nNew stanza").html
    assert out.startswith("<p>Roses are red,<br />\nviolets are blue.</p>")


def test_bare_urls_become_links_but_file_names_do_not() -> None:
    out = render_markdown(
        "See https://example.com/a?b=1, www.python.org or mail me@example.com. "
        "Edit README.md and setup.py; ftp://x.example/f stays text."
    ).html
    hrefs = re.findall(r'href="([^"]*)"', out)
    assert hrefs == ["https://example.com/a?b=1", "http://www.python.org", "mailto:me@example.com"]
    assert "README.md" in out and "setup.py" in out
    # A linkified URL is held to the same schemes as any link.
    assert "href" not in render_markdown("javascript:alert(1) file:///etc/passwd").html


def test_task_lists_use_qt_checkbox_markers() -> None:
    out = render_markdown("- [ ] todo\n- [x] done\n- plain\n").html
    assert out == (
        '<ul>\n<li class="unchecked">todo</li>\n<li class="checked">done</li>\n'
        "<li>plain</li>\n</ul>\n"
    )
    assert "<input" not in out


def test_items_that_do_not_start_with_text_keep_their_bullet() -> None:
    # Qt drops an empty <li>, or one that starts with a nested list: a space keeps them.
    assert render_markdown("-\n- b\n").html == "<ul>\n<li>&nbsp;</li>\n<li>b</li>\n</ul>\n"
    assert "<li>\n&nbsp;<ul>" in render_markdown("-\n  - nested\n").html


def _math(out: str) -> list[MathSource | None]:
    return [math_source(src) for src in re.findall(r'<img src="([^"]*)"', out)]


def test_math_becomes_images_that_carry_their_tex() -> None:
    text = "Inline $e^{i\\pi} + 1 = 0$ and $$\\sum_k k$$ here.\n\n$$\n\\frac{a}{b}\n$$\n"
    light = render_markdown(text).html
    assert _math(light) == [
        MathSource("e^{i\\pi} + 1 = 0", False, False),
        MathSource("\\sum_k k", True, False),
        MathSource("\\frac{a}{b}", True, False),
    ]
    assert '<p align="center"><img src="parley-math:' in light
    assert [m.dark for m in _math(render_markdown(text, dark=True).html) if m] == [True] * 3


def test_prices_and_code_are_not_math() -> None:
    out = render_markdown("It costs $5 and $10 today, or $ 3 $; `$x$` is code.").html
    assert "<img" not in out and "$5 and $10 today, or $ 3 $;" in out and "<code" in out


def test_math_urls_cannot_be_forged_into_anything_else() -> None:
    out = render_markdown(
        "![x](parley-math:light/inline/x) [y](parley-math:light/inline/y) <parley-math:z>"
    ).html
    assert "<img" not in out and "href" not in out
    assert math_source("parley-math:light/sideways/x") is None
    assert math_source("https://example.com/x.svg") is None
    assert math_source("parley-math:dark/inline/%3Cb%3E") == MathSource("<b>", False, True)


def _numbered(n: int) -> str:
    return "".join(f"{i}. item {i} with **bold**\n" for i in range(1, n + 1))


def test_a_long_list_keeps_its_finished_items() -> None:
    text = "Steps:\n\n" + _numbered(200)
    inc = IncrementalMarkdown()
    rendered = ""
    for end in range(1, len(text) + 1, 97):
        up = inc.update(text[:end])
        rendered = up.stable_html if up.replace_all else rendered + up.stable_html
        assert rendered + up.tail_html == render_markdown(text[:end]).html
    up = inc.update(text)
    assert not up.replace_all
    # All but the last two items are finished: the tail is two items long.
    assert (
        inc.text[inc.stable_len :] == "199. item 199 with **bold**\n200. item 200 with **bold**\n"
    )
    assert up.tail_lead.startswith("<ol>")
    assert up.tail_html == (
        "<li>item 199 with <strong>bold</strong></li>\n"
        "<li>item 200 with <strong>bold</strong></li>\n</ol>\n"
    )


def test_a_list_turning_loose_is_rendered_again_from_its_start() -> None:
    tight = "- a\n- b\n- c\n- d\n"
    inc = IncrementalMarkdown()
    inc.update(tight)
    assert inc.stable_len == len("- a\n- b\n")
    up = inc.update(tight + "\n- e")  # a blank line between items: every item is a paragraph
    assert up.replace_all
    assert inc.html == render_markdown(tight + "\n- e").html
    assert "<li>\n<p>a</p>\n</li>" in inc.html


def test_carriage_returns_stream_like_newlines() -> None:
    text = "- one\r\n- two\r\n- three\r\n- four\r\n\r\npara\rnext"
    inc = IncrementalMarkdown()
    for end in range(1, len(text) + 1):
        up = inc.update(text[:end])
    assert inc.stable_len > 0
    assert inc.html == render_markdown(text).html
    assert up.tail_html  # the open tail is still rendered
