"""Tree edits: delete a message with the replies below it, and fork from any message."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from parley.core.store import Store, StoreError, StoreErrorKind
from parley.core.store.edit import delete_branch, fork_conversation, subtree_ids


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store.open(flush_interval=0.05)
    yield s
    s.close()


def _answer(store: Store, conv: int, parent: int, text: str) -> int:
    a = store.begin_answer(conv, parent, {"model": "m", "messages": []}, "euri", "m")
    store.finish_answer(a, text=text)
    return a


def _tree(store: Store) -> tuple[int, dict[str, int]]:
    """u1 -> (a1 -> u2 -> a2) | (b1): two answers to u1, b1 newest and shown."""
    conv = store.create_conversation(title="Tree", system_prompt="Be brief.", provider="euri")
    ids: dict[str, int] = {}
    ids["u1"] = store.add_message(conv, None, "user", "first question")
    ids["a1"] = _answer(store, conv, ids["u1"], "first answer")
    ids["u2"] = store.add_message(conv, ids["a1"], "user", "second question")
    ids["a2"] = _answer(store, conv, ids["u2"], "second answer")
    ids["b1"] = _answer(store, conv, ids["u1"], "other answer")
    return conv, ids


def _texts(store: Store, conv: int) -> list[str]:
    return [m.text for m in store.current_path(conv)]


def test_subtree_is_the_message_and_every_reply_below_it(store: Store) -> None:
    _, ids = _tree(store)
    assert subtree_ids(store, ids["a1"]) == [ids["a1"], ids["u2"], ids["a2"]]
    assert set(subtree_ids(store, ids["u1"])) == set(ids.values())


def test_deleting_the_shown_branch_shows_the_other_one(store: Store) -> None:
    conv, ids = _tree(store)
    store.set_current_leaf(conv, ids["a2"])
    result = delete_branch(store, ids["a1"])
    assert result.removed == 3 and result.conversation_id == conv
    assert result.leaf == ids["b1"]
    assert _texts(store, conv) == ["first question", "other answer"]
    assert [m.id for m in store.messages(conv)] == [ids["u1"], ids["b1"]]
    with pytest.raises(StoreError) as err:
        store.get_message(ids["a2"])
    assert err.value.kind is StoreErrorKind.NOT_FOUND


def test_deleting_a_branch_not_shown_keeps_the_shown_one(store: Store) -> None:
    conv, ids = _tree(store)
    store.set_current_leaf(conv, ids["a2"])
    result = delete_branch(store, ids["b1"])
    assert result.removed == 1 and result.leaf == ids["a2"]
    assert _texts(store, conv)[-1] == "second answer"
    assert store.siblings(ids["a1"]).total == 1  # no `< 1/2 >` any more


def test_deleting_the_last_answer_shows_its_question(store: Store) -> None:
    conv, ids = _tree(store)
    delete_branch(store, ids["b1"])
    result = delete_branch(store, ids["a1"])
    assert result.leaf == ids["u1"]
    assert _texts(store, conv) == ["first question"]
    assert delete_branch(store, ids["u1"]).leaf is None
    assert store.current_path(conv) == []
    assert store.search("first") == []  # nothing left to find either


def test_a_streaming_answer_cannot_be_deleted(store: Store) -> None:
    conv, ids = _tree(store)
    store.begin_answer(conv, ids["u2"], {}, "euri", "m")  # still streaming
    with pytest.raises(StoreError) as err:
        delete_branch(store, ids["a1"])
    assert "stop it first" in err.value.message
    assert len(store.messages(conv)) == 6  # nothing deleted


def test_fork_copies_the_path_to_a_message_into_a_new_chat(store: Store) -> None:
    conv, ids = _tree(store)
    new = fork_conversation(store, ids["u2"])
    assert new != conv
    forked = store.get_conversation(new)
    assert forked.title == "Tree (fork)" and forked.system_prompt == "Be brief."
    assert forked.provider == "euri"
    assert _texts(store, new) == ["first question", "first answer", "second question"]
    assert len(store.messages(new)) == 3  # the other branch (b1) and a2 stay behind
    first_answer = store.current_path(new)[1]
    assert first_answer.request_body == {"model": "m", "messages": []}  # kept losslessly
    assert len(store.messages(conv)) == 5  # the original is unchanged
    assert store.list_conversations()[0].id == new  # at the top of the list


def test_fork_of_a_missing_message_says_so(store: Store) -> None:
    with pytest.raises(StoreError) as err:
        fork_conversation(store, 12345)
    assert err.value.kind is StoreErrorKind.NOT_FOUND
