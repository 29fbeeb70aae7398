"""The token estimate shown while typing: a heuristic, always marked as one."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from parley.core.chat.tokens import (
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD,
    TokenEstimate,
    estimate_history,
    estimate_send,
    estimate_text_tokens,
)


def test_latin_text_is_about_four_characters_a_token() -> None:
    assert estimate_text_tokens("") == 0
    assert estimate_text_tokens("a") == 1
    text = "The quick brown fox jumps over the lazy dog. " * 20  # 900 characters
    assert estimate_text_tokens(text) == 225


def test_cjk_is_about_a_token_a_character() -> None:
    assert estimate_text_tokens("你好世界") == 4
    assert estimate_text_tokens("안녕하세요") == 5


def test_a_send_counts_system_prompt_history_draft_and_images() -> None:
    history = ["Hello there", "General Kenobi"]
    e = estimate_send(history, "next", system_prompt="Be brief.", images=2, context_length=8000)
    expected = sum(estimate_text_tokens(t) for t in ["Be brief.", *history, "next"])
    assert e.tokens == expected + 4 * MESSAGE_OVERHEAD + 2 * IMAGE_TOKENS
    assert e.context_length == 8000 and not e.exact and not e.over
    assert estimate_history(history) + estimate_text_tokens("next") + MESSAGE_OVERHEAD == (
        estimate_send(history, "next").tokens
    )


def test_the_text_says_it_is_an_estimate_and_when_the_limit_is_unknown() -> None:
    assert TokenEstimate(1234, 128000).text() == "≈1,234 of 128,000 tokens (estimate)"
    assert TokenEstimate(12, None).text() == "≈12 tokens (estimate, context length unknown)"
    assert TokenEstimate(12, 100, exact=True).text() == "12 of 100 tokens"
    assert TokenEstimate(101, 100).over and TokenEstimate(101, 100).share == 1.01


@given(st.text(max_size=300), st.text(max_size=300))
def test_more_text_never_counts_fewer_tokens(a: str, b: str) -> None:
    assert estimate_text_tokens(a + b) >= max(estimate_text_tokens(a), estimate_text_tokens(b))
