from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from parley.core.markdown import (
    IncrementalMarkdown,
    OpenCode,
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


@settings(max_examples=150, deadline=None)
@given(st.lists(LINES, min_size=1, max_size=18), st.integers(min_value=1, max_value=9))
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
