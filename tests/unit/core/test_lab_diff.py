"""Word diff of two answers and the diff of their parameter sets (core.lab.diff)."""

from __future__ import annotations

import random
import time

from parley.core.lab.diff import MISSING, Op, params_diff, stats, tokens, word_diff


def sides(ops: list[Op]) -> tuple[str, str]:
    return "".join(o.left for o in ops), "".join(o.right for o in ops)


def test_one_changed_word_is_a_replace_between_equal_parts() -> None:
    ops = word_diff("The quick brown fox.", "The quick red fox.")
    assert ops == [
        Op("equal", "The quick ", "The quick "),
        Op("replace", "brown ", "red "),
        Op("equal", "fox.", "fox."),
    ]


def test_inserted_and_deleted_words() -> None:
    ops = word_diff("a b c", "a c d")
    assert ops == [
        Op("equal", "a ", "a "),
        Op("delete", "b ", ""),
        Op("equal", "c", "c "),
        Op("insert", "", "d"),
    ]
    assert sides(ops) == ("a b c", "a c d")
    s = stats(ops)
    assert (s.equal_words, s.deleted_words, s.inserted_words) == (2, 1, 1)


def test_identical_and_empty_texts() -> None:
    assert word_diff("", "") == []
    assert word_diff("same text", "same text") == [Op("equal", "same text", "same text")]
    assert stats(word_diff("x y", "x y")).similarity == 1.0
    assert word_diff("", "new") == [Op("insert", "", "new")]
    assert stats(word_diff("", "")).similarity == 1.0


def test_punctuation_and_unicode_are_tokens_of_their_own() -> None:
    assert tokens("Grüße, Welt!") == ["Grüße", ", ", "Welt", "!"]
    ops = word_diff("Grüße, Welt!", "Grüße; Welt!")
    assert [o for o in ops if o.kind != "equal"] == [Op("replace", ", ", "; ")]


def test_frequent_words_are_matched_too() -> None:
    # difflib's autojunk would treat "the" as junk in a long text; a reader would not.
    left = " ".join(["the"] * 300 + ["end"])
    right = " ".join(["the"] * 300 + ["finish"])
    ops = word_diff(left, right)
    assert [o for o in ops if o.kind != "equal"] == [Op("replace", "end", "finish")]


def _answer(rng: random.Random, words: int) -> str:
    vocab = [f"w{i}" for i in range(400)] + ["the", "a", "of", "and", ".", ","]
    lines, line = [], []
    for _ in range(words):
        line.append(rng.choice(vocab))
        if len(line) >= 12:
            lines.append(" ".join(line))
            line = []
    lines.append(" ".join(line))
    return "\n".join(lines)


def test_two_20_kb_answers_diff_in_full_and_quickly() -> None:
    rng = random.Random(7)
    left = _answer(rng, 5000)
    words = left.split(" ")
    for i in range(0, len(words), 37):  # change a word every 37
        words[i] = "CHANGED"
    right = " ".join(words)
    assert len(left) > 20_000 and len(right) > 20_000
    t0 = time.perf_counter()
    ops = word_diff(left, right)
    elapsed = time.perf_counter() - t0
    assert sides(ops) == (left, right)  # nothing capped, nothing lost
    changed = [o for o in ops if o.kind != "equal"]
    assert sum(o.right.count("CHANGED") for o in changed) == right.count("CHANGED")
    assert elapsed < 5.0, f"diff of two 20 kB answers took {elapsed:.2f} s"


def test_params_diff_names_added_removed_and_changed() -> None:
    left = {"provider": "euri", "model": "m", "temperature": 0.2, "seed": 1, "advanced": {}}
    right = {
        "provider": "euri",
        "model": "m",
        "temperature": 0.9,
        "top_p": 0.5,
        "advanced": {"provider": {"sort": "price"}},
    }
    changes = {c.name: c for c in params_diff(left, right)}
    assert set(changes) == {"temperature", "seed", "top_p", "advanced.provider.sort"}
    assert changes["temperature"].kind == "changed"
    assert changes["seed"].kind == "removed" and changes["seed"].right is MISSING
    assert changes["top_p"].kind == "added"
    assert changes["advanced.provider.sort"].describe() == (
        'advanced.provider.sort: (not set) → "price"'
    )


def test_params_diff_numbers_and_booleans() -> None:
    assert params_diff({"t": 1}, {"t": 1.0}) == []
    assert [c.name for c in params_diff({"x": True}, {"x": 1})] == ["x"]
    assert params_diff({}, {}) == []
