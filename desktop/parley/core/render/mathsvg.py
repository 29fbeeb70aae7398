"""LaTeX math typeset as SVG, in pure Python (ziamath, with its own STIX Two Math font).

ziamath reads its font when first imported (~150 ms), so it is imported on the first formula and
that should happen off the GUI thread (the view typesets in a worker; see `ui.math_images`).
A formula ziamath cannot read, or one too long or too deeply nested to be worth the time, gives
None: the view then keeps showing its TeX.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_TEX = 2_000  # characters
MAX_DEPTH = 40  # nested braces

_VIEWBOX = re.compile(rb'viewBox="([-\d.e]+) ([-\d.e]+) ([-\d.e]+) ([-\d.e]+)"')


@dataclass(frozen=True)
class MathSvg:
    svg: bytes
    width: float  # pixels (at the size asked for)
    height: float
    depth: float  # how far it reaches below the baseline


def _depth(tex: str) -> int:
    depth = deepest = 0
    for ch in tex:
        if ch == "{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == "}":
            depth -= 1
    return deepest


def typeset(tex: str, *, display: bool, size: float, color: str) -> MathSvg | None:
    """The formula as SVG, `size` pixels to the em, drawn in `color` (#rrggbb); None when it
    cannot be typeset."""
    tex = tex.strip()
    if not tex or len(tex) > MAX_TEX or _depth(tex) > MAX_DEPTH:
        return None
    try:
        from ziamath.config import config
        from ziamath.zmath import Latex

        config.svg2 = False  # plain paths: QtSvg (SVG Tiny) has no <symbol>
        svg = Latex(tex, size=size, color=color, inline=not display).svg()
    except Exception:  # whatever the formula holds: it stays shown as its TeX
        return None
    data = svg.encode() if isinstance(svg, str) else bytes(svg)
    found = _VIEWBOX.search(data[:2_000])
    if found is None:
        return None
    _, top, width, height = (float(v) for v in found.groups())
    if not (0 < width < 100_000 and 0 < height < 100_000):
        return None
    return MathSvg(data, width, height, max(0.0, height + top))
