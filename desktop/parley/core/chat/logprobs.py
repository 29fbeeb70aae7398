"""Token log-probabilities: what an answer's tokens say about how sure the model was.

Pure functions shared by the chat's heatmap and the Lab's panes: a summary (mean log-probability,
perplexity, the least likely token), the compact form the history keeps them in, the colours of
the heatmap (tinted by how unlikely a token was, text kept readable on every tint), and whether a
provider returns them at all (its provider file says so).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from parley.core.protocol.events import TokenLogprob, TopLogprob
from parley.core.providers.catalog import ProviderSpec


def probability(logprob: float) -> float:
    """The probability of a natural-log probability, clamped to [0, 1]."""
    if not math.isfinite(logprob):
        return 0.0
    return max(0.0, min(1.0, math.exp(logprob)))


@dataclass(frozen=True, slots=True)
class LogprobSummary:
    count: int
    mean_logprob: float
    perplexity: float
    lowest_index: int  # the least likely token (-1 when there are none)

    def describe(self, tokens: Sequence[TokenLogprob]) -> str:
        """One line: "24 tokens · mean log-prob −0.412 · perplexity 1.51 · least likely …"."""
        if not self.count:
            return "No token probabilities"
        parts = [
            f"{self.count:,} token{'s' if self.count != 1 else ''}",
            "mean log-prob " + f"{self.mean_logprob:.3f}".replace("-", "\u2212"),
            f"perplexity {self.perplexity:,.2f}",
        ]
        if 0 <= self.lowest_index < len(tokens):
            low = tokens[self.lowest_index]
            parts.append(f"least likely {shown_token(low.token)} {percent(low.logprob)}")
        return " · ".join(parts)


def summarize(tokens: Sequence[TokenLogprob]) -> LogprobSummary:
    """Mean log-probability per token and perplexity (exp of minus the mean)."""
    finite = [(i, t.logprob) for i, t in enumerate(tokens) if math.isfinite(t.logprob)]
    if not finite:
        return LogprobSummary(0, 0.0, 1.0, -1)
    mean = sum(lp for _, lp in finite) / len(finite)
    lowest = min(finite, key=lambda item: item[1])[0]
    try:
        perplexity = math.exp(-mean)
    except OverflowError:
        perplexity = math.inf
    return LogprobSummary(len(finite), mean, perplexity, lowest)


def percent(logprob: float) -> str:
    p = probability(logprob) * 100
    if p >= 99.95:
        return "100%"
    if p >= 10:
        return f"{p:.0f}%"
    if p >= 0.1:
        return f"{p:.1f}%"
    return "<0.1%"


def shown_token(token: str) -> str:
    """A token quoted with its whitespace made visible (a leading space matters)."""
    visible = token.replace("\n", "\u21b5").replace("\t", "\u2192")
    return f"\u201c{visible}\u201d"


def alternatives_text(token: TokenLogprob) -> str:
    """The tooltip of one token: its probability and the top alternatives, most likely first."""
    lines = [
        f"{shown_token(token.token)}  {percent(token.logprob)}  (log-prob {token.logprob:.3f})"
    ]
    top = sorted(token.top, key=lambda t: t.logprob, reverse=True)
    if top:
        lines.append("Top alternatives:")
        for alt in top:
            mark = "  \u25b8 " if alt.token == token.token else "     "
            lines.append(f"{mark}{shown_token(alt.token)}  {percent(alt.logprob)}")
    return "\n".join(lines)


def alternatives_line(token: TokenLogprob) -> str:
    """One line for a token: its probability, then the other likely tokens."""
    likely = sorted(token.top, key=lambda t: t.logprob, reverse=True)
    others = [a for a in likely if a.token != token.token]
    line = f"{shown_token(token.token)} {percent(token.logprob)}"
    if others:
        line += " · instead: " + ", ".join(
            f"{shown_token(a.token)} {percent(a.logprob)}" for a in others
        )
    return line


# --------------------------------------------------------------------------- stored form


def encode(tokens: Iterable[TokenLogprob]) -> list[list[Any]]:
    """The compact JSON form kept in the history: [token, logprob, [[alt, logprob], ...]]."""
    return [[t.token, t.logprob, [[a.token, a.logprob] for a in t.top]] for t in tokens]


def decode(raw: Any) -> tuple[TokenLogprob, ...]:
    """`encode`'s form read back; anything malformed (a hand-edited import) is skipped."""
    out: list[TokenLogprob] = []
    if not isinstance(raw, list):
        return ()
    for item in raw:
        if not isinstance(item, list) or len(item) < 2:
            continue
        token, lp = item[0], item[1]
        if not isinstance(token, str) or not _is_number(lp):
            continue
        top: list[TopLogprob] = []
        alts = item[2] if len(item) > 2 and isinstance(item[2], list) else []
        for alt in alts:
            if (
                isinstance(alt, list)
                and len(alt) == 2
                and isinstance(alt[0], str)
                and _is_number(alt[1])
            ):
                top.append(TopLogprob(alt[0], float(alt[1])))
        out.append(TokenLogprob(token, float(lp), tuple(top)))
    return tuple(out)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --------------------------------------------------------------------------- support


def logprobs_unsupported(spec: ProviderSpec) -> str | None:
    """Why `spec` cannot be asked for token probabilities (None: it can)."""
    if not spec.capabilities.logprobs:
        return f"{spec.name} does not return token probabilities (its provider file says so)."
    if spec.param("logprobs") is None:
        return f"{spec.name}'s provider file lists no logprobs parameter."
    return None


def max_alternatives(spec: ProviderSpec) -> int:
    p = spec.param("top_logprobs")
    if p is None or p.max is None:
        return 0 if p is None else 20
    return int(p.max)


# --------------------------------------------------------------------------- heatmap colours

# The defaults are the chat theme's answer card and text colours (parley.ui.theme).
_LIGHT_BASE = "#ffffff"
_DARK_BASE = "#161b22"
_LIGHT_TEXT = "#1f2328"
_DARK_TEXT = "#e6edf3"
_LIGHT_HOT = (232, 89, 12)  # an orange-red: unlikely tokens stand out
_DARK_HOT = (224, 83, 52)
_MAX_TINT = 0.55  # the tint of a token the model gave (almost) no probability


def _rgb(color: str) -> tuple[int, int, int]:
    return (int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16))


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    r, g, bl = (round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
    return (r, g, bl)


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def heat_colors(
    logprob: float, *, dark: bool, base: str | None = None, text: str | None = None
) -> tuple[str, str]:
    """(background, text) colours of a token on `base` ("#rrggbb"): the less likely, the
    stronger the tint. With the theme's colours the text keeps a contrast of at least 4.5:1
    on every tint."""
    p = probability(logprob)
    tint = _MAX_TINT * (1.0 - p) ** 0.8
    base = base or (_DARK_BASE if dark else _LIGHT_BASE)
    text = text or (_DARK_TEXT if dark else _LIGHT_TEXT)
    hot = _DARK_HOT if dark else _LIGHT_HOT
    return _hex(_mix(_rgb(base), hot, tint)), text


def contrast_ratio(a: str, b: str) -> float:
    """WCAG contrast ratio of two "#rrggbb" colours."""

    def luminance(color: str) -> float:
        channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
