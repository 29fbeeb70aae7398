"""An estimate of how many tokens a send will take, against the model's context length.

Parley bundles no tokenizer (each model family has its own, and they are large), so the count
is a heuristic and always said to be one: about four characters a token for text in Latin
script, one a character for Chinese, Japanese and Korean, two a token for other scripts, plus a
few tokens per message for the chat format, and a flat cost per image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MESSAGE_OVERHEAD = 4  # role and separators, per message (OpenAI's chat format uses 3–4)
IMAGE_TOKENS = 765  # an image at "high" detail, 1024 px on its long side (OpenAI's rule)


def _is_cjk(code: int) -> bool:
    return (
        0x2E80 <= code <= 0x9FFF  # CJK radicals, kana, unified ideographs
        or 0xAC00 <= code <= 0xD7AF  # Hangul syllables
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x2FFFF
    )


def estimate_text_tokens(text: str) -> int:
    """Tokens in `text`, estimated (0 for "")."""
    if not text:
        return 0
    ascii_chars = cjk = other = 0
    for ch in text:
        code = ord(ch)
        if code < 0x80:
            ascii_chars += 1
        elif _is_cjk(code):
            cjk += 1
        else:
            other += 1
    return max(1, math.ceil(ascii_chars / 4 + cjk + other / 2))


@dataclass(frozen=True)
class TokenEstimate:
    tokens: int
    context_length: int | None  # None: the model's is not known
    exact: bool = False  # True only where a real tokenizer counted them

    @property
    def over(self) -> bool:
        return self.context_length is not None and self.tokens > self.context_length

    @property
    def share(self) -> float | None:
        if not self.context_length:
            return None
        return self.tokens / self.context_length

    def text(self) -> str:
        """ "≈1,234 of 128,000 tokens (estimate)", or "… (context length unknown)"."""
        mark = "" if self.exact else "≈"
        count = f"{mark}{self.tokens:,}"
        if self.context_length:
            shown = f"{count} of {self.context_length:,} tokens"
        else:
            shown = f"{count} tokens"
        notes = [] if self.exact else ["estimate"]
        if not self.context_length:
            notes.append("context length unknown")
        return f"{shown} ({', '.join(notes)})" if notes else shown


def estimate_send(
    history: Sequence[str],
    draft: str,
    *,
    system_prompt: str = "",
    images: int = 0,
    context_length: int | None = None,
) -> TokenEstimate:
    """What a send of `draft` after `history` (the branch's message texts) would take."""
    messages = [m for m in (system_prompt, *history) if m] + [draft]
    tokens = sum(estimate_text_tokens(m) + MESSAGE_OVERHEAD for m in messages)
    tokens += images * IMAGE_TOKENS
    return TokenEstimate(tokens, context_length or None)


def estimate_history(history: Sequence[str]) -> int:
    """The history's part of `estimate_send` (so a window can keep it while the draft changes)."""
    return sum(estimate_text_tokens(m) + MESSAGE_OVERHEAD for m in history if m)
