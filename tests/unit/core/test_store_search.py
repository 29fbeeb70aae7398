"""Full-text search: titles and messages, highlighted snippets, any query text is safe."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from parley.core.store import MATCH_END, MATCH_START, Store, fts_query


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store.open()
    yield s
    s.close()


def _chat(store: Store, prompt: str, answer: str) -> tuple[int, int, int]:
    cid = store.create_conversation()
    u = store.add_message(cid, None, "user", prompt)
    a = store.add_message(cid, u, "assistant", answer)
    return cid, u, a


def test_finds_message_and_highlights_the_match(store: Store) -> None:
    _chat(store, "Plan a trip", "Lisbon has trams.")
    cid, _, a = _chat(store, "Something else", "The aquarium in Porto is huge.")
    hits = store.search("aquarium")
    assert [(h.conversation_id, h.message_id) for h in hits] == [(cid, a)]
    assert f"{MATCH_START}aquarium{MATCH_END}" in hits[0].snippet
    assert hits[0].title == "Something else"


def test_title_hits_come_first_with_no_message_id(store: Store) -> None:
    cid, u, _ = _chat(store, "Sourdough starter help", "Feed it daily.")
    other = store.create_conversation(title="Bread")
    flat = store.add_message(other, None, "user", "my sourdough is flat")
    hits = store.search("sourdough")
    assert hits[0].conversation_id == cid and hits[0].message_id is None
    assert hits[0].snippet == f"{MATCH_START}Sourdough{MATCH_END} starter help"
    assert {(h.conversation_id, h.message_id) for h in hits[1:]} == {(cid, u), (other, flat)}


def test_every_word_must_match_and_words_are_prefixes(store: Store) -> None:
    _chat(store, "q", "the quick brown fox")
    _chat(store, "q", "the quick red panda")
    assert len(store.search("quick brown")) == 1
    assert len(store.search("qui")) == 2
    assert store.search("quick zebra") == []


def test_accents_and_case_do_not_matter(store: Store) -> None:
    _chat(store, "q", "Un café à Paris")
    assert len(store.search("CAFE")) == 1
    assert len(store.search("paris")) == 1


@pytest.mark.parametrize(
    "query",
    ["C++", '"', 'say "hi', "AND", "OR NOT", "NEAR(a b)", "*", "-x", "title:foo", "a^b", "(", "'"],
)
def test_any_query_text_is_safe(store: Store, query: str) -> None:
    _chat(store, "Learning C++ and AND gates", "x")
    store.search(query)  # never raises


def test_operator_words_are_searched_as_words(store: Store) -> None:
    cid, _, answer = _chat(store, "q", "cats AND dogs")
    _chat(store, "q", "cats only")
    hits = store.search("cats AND")
    assert [(h.conversation_id, h.message_id) for h in hits] == [(cid, answer)]


def test_cplusplus_finds_c_not_every_c_word(store: Store) -> None:
    _, _, a = _chat(store, "q", "I write C++ daily")
    _chat(store, "q", "I write code daily")
    assert [h.message_id for h in store.search("C++")] == [a]


def test_empty_or_symbol_only_queries_find_nothing(store: Store) -> None:
    _chat(store, "q", "anything")
    assert store.search("") == []
    assert store.search("  ++ -- ") == []
    assert fts_query("++") is None
    assert fts_query('a"b') == '"a""b"*'


def test_streamed_text_is_searchable_and_renames_reindex(store: Store) -> None:
    cid = store.create_conversation(title="Old name")
    a = store.begin_answer(cid, None, {}, "p", "m")
    store.save_partial(a, "partial penguins")
    store.flush()
    assert [h.message_id for h in store.search("penguins")] == [a]
    store.finish_answer(a, text="final walruses")
    assert store.search("penguins") == []
    assert [h.message_id for h in store.search("walruses")] == [a]
    store.rename_conversation(cid, "New name")
    assert store.search("Old") == []
    assert store.search("New")[0].conversation_id == cid


def test_limit(store: Store) -> None:
    with store.batch():
        for i in range(30):
            _chat(store, f"q{i}", "common word")
    assert len(store.search("common", limit=10)) == 10


def test_jumping_to_a_hit_on_a_hidden_branch_shows_that_branch(store: Store) -> None:
    cid = store.create_conversation()
    u = store.add_message(cid, None, "user", "question")
    hidden = store.add_message(cid, u, "assistant", "the narwhal answer")
    follow = store.add_message(cid, hidden, "user", "and then?")
    shown = store.add_message(cid, u, "assistant", "another answer")
    assert store.current_leaf(cid) == shown
    (hit,) = store.search("narwhal")
    assert hit.message_id == hidden
    assert store.show_message(hidden) == follow
    assert [m.id for m in store.current_path(cid)] == [u, hidden, follow]
