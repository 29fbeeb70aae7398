from __future__ import annotations

import re

from parley.core.render.mathsvg import MAX_TEX, typeset


def test_a_formula_becomes_svg_of_plain_paths_with_its_size_and_depth() -> None:
    out = typeset("\\frac{a}{b} + x_i^2", display=False, size=16, color="#123456")
    assert out is not None
    assert out.svg.startswith(b"<svg")
    assert b"<path" in out.svg and b"<symbol" not in out.svg  # QtSvg draws no <symbol>
    assert b"#123456" in out.svg
    assert 20 < out.width < 200 and 10 < out.height < 60
    assert 0 < out.depth < out.height  # the fraction and subscript reach below the baseline
    big = typeset("\\frac{a}{b} + x_i^2", display=False, size=32, color="#123456")
    assert big is not None and big.width > 1.8 * out.width


def test_display_style_sets_limits_and_fractions_larger() -> None:
    inline = typeset("\\sum_{k=1}^{n} \\frac{1}{k}", display=False, size=16, color="#000000")
    display = typeset("\\sum_{k=1}^{n} \\frac{1}{k}", display=True, size=16, color="#000000")
    assert inline is not None and display is not None
    assert display.height > inline.height


def test_what_cannot_be_typeset_gives_none() -> None:
    for tex in ("", "   ", "\\frac{", "{" * 60 + "x" + "}" * 60, "x" * (MAX_TEX + 1)):
        assert typeset(tex, display=True, size=16, color="#000000") is None, tex[:20]


def test_the_svg_carries_no_text_to_interpret() -> None:
    # Whatever the TeX holds ends up as glyph outlines, never as markup.
    out = typeset("a < b \\text{ if <b>x</b> } c > d", display=False, size=16, color="#000000")
    assert out is not None
    assert not re.search(rb"<(script|text|foreignObject|image|a|b)\b", out.svg)
