"""Export as Markdown and JSON, import JSON back: lossless, and never a key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.core.protocol.errors import ErrorKind, ParleyError
from parley.core.protocol.events import Meta, Usage
from parley.core.protocol.request import ChatRequest, ImagePart, Message, TextPart, ToolCall
from parley.core.providers.catalog import load_catalog
from parley.core.providers.wire import auth_headers, build_wire_request
from parley.core.store import Store, StoreError, StoreErrorKind
from parley.core.store.export import (
    FORMAT_VERSION,
    export_conversation,
    export_json,
    export_markdown,
    import_json,
)

FAKE_KEY = "sk-parley-test-9f8e7d6c5b4a39281706"


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store.open()
    yield s
    s.close()


def _rich_conversation(store: Store) -> int:
    """Branches, images, tools, reasoning, a failure, metadata: everything the store keeps."""
    cid = store.create_conversation(
        system_prompt="You are a careful assistant.\n\nBe brief.",
        provider="euri",
        model="gpt-4.1-mini",
        params={"temperature": 0.3, "stop": ["END"]},
        advanced={"metadata": {"k": "v"}},
        preset="careful",
        session_id="sess-42",
    )
    store.set_pinned(cid, True)
    store.save_draft(cid, "unsent thought")
    u1 = store.add_message(
        cid,
        None,
        "user",
        [TextPart(text="What is in "), ImagePart(mime="image/png", data="iVBORw0K", name="x.png")],
    )
    body = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "..."}]}
    a1 = store.begin_answer(cid, u1, body, "euri", "gpt-4.1-mini")
    store.save_partial(a1, "A cat", "looking")
    store.finish_answer(
        a1,
        text="A cat.",
        reasoning="The image shows whiskers.",
        finish_reason="stop",
        usage=Usage(prompt_tokens=12, completion_tokens=3, total_tokens=15),
        metrics={"ttft_ms": 210.5, "tokens_per_s": 40.0, "total_ms": 900.0},
        meta=Meta(model="gpt-4.1-mini-2025", response_id="chatcmpl-1", headers={"x-r": "1"}),
        cost=0.00042,
        extra={"logprobs": [{"token": "A", "logprob": -0.1}]},
    )
    a1b = store.begin_answer(cid, u1, body, "euri", "gpt-4.1-mini")
    store.finish_answer(
        a1b,
        text="A ca",
        status="failed",
        error=ParleyError(ErrorKind.NETWORK, "The connection dropped.", partial=True),
    )
    u2 = store.add_message(cid, a1, "user", "Call the tool.")
    a2 = store.add_message(
        cid, u2, "assistant", "", tool_calls=[ToolCall(id="c1", name="lookup", arguments="{}")]
    )
    t = store.add_message(cid, a2, "tool", '{"ok": true}', tool_call_id="c1", name="lookup")
    store.add_message(cid, t, "assistant", "Done.")
    store.set_current_leaf(cid, a1b)  # show the failed branch: current leaf must survive too
    return cid


def _normalised(data: dict[str, Any]) -> dict[str, Any]:
    """The export with ids replaced by their order, and the fields an import may change."""
    data = json.loads(json.dumps(data))
    order = {m["id"]: i for i, m in enumerate(data["messages"])}
    for m in data["messages"]:
        m["id"] = order[m["id"]]
        m["parent_id"] = None if m["parent_id"] is None else order[m["parent_id"]]
    conv = data["conversation"]
    conv["current_leaf_id"] = order[conv["current_leaf_id"]]
    del conv["id"], conv["updated_at"], data["exported_at"]
    return data


def test_json_round_trip_is_lossless(store: Store) -> None:
    cid = _rich_conversation(store)
    first = export_json(store, cid)
    assert first["version"] == FORMAT_VERSION
    assert len(first["messages"]) == 7
    new_id = import_json(store, json.dumps(first))
    assert new_id != cid
    second = export_json(store, new_id)
    assert {m["id"] for m in second["messages"]}.isdisjoint({m["id"] for m in first["messages"]})
    assert _normalised(second) == _normalised(first)
    # and the imported conversation behaves: same shown branch, same siblings
    assert [m.text for m in store.current_path(new_id)] == [m.text for m in store.current_path(cid)]
    leaf = store.get_conversation(new_id).current_leaf_id
    assert leaf is not None and store.siblings(leaf) == (1, 2)


def test_json_holds_every_field(store: Store) -> None:
    cid = _rich_conversation(store)
    data = export_json(store, cid)
    conv = data["conversation"]
    assert conv["pinned"] is True and conv["draft"] == "unsent thought"
    assert conv["session_id"] == "sess-42" and conv["preset"] == "careful"
    answer = data["messages"][1]
    assert answer["request_body"]["model"] == "gpt-4.1-mini"
    assert answer["usage"]["completion_tokens"] == 3
    assert answer["meta"]["response_id"] == "chatcmpl-1"
    assert answer["model_used"] == "gpt-4.1-mini-2025"
    assert answer["extra"]["logprobs"][0]["token"] == "A"
    assert data["messages"][0]["content"][1] == {
        "type": "image",
        "mime": "image/png",
        "data": "iVBORw0K",
        "name": "x.png",
    }
    assert data["messages"][2]["error"]["kind"] == "network"


def test_markdown_shows_the_current_branch_readably(store: Store) -> None:
    cid = _rich_conversation(store)
    store.set_current_leaf(cid, store.messages(cid)[-1].id)
    md = export_markdown(store, cid)
    assert md.startswith("# What is in\n")
    assert "## System prompt\n\n> You are a careful assistant.\n>\n> Be brief." in md
    assert "<details>\n<summary>Reasoning</summary>\n\nThe image shows whiskers." in md
    assert "*[image: x.png, image/png]*" in md and "iVBORw0K" not in md
    assert "gpt-4.1-mini-2025 (asked for gpt-4.1-mini) · euri · 12 in / 3 out tokens" in md
    assert "$0.0004" in md
    assert "## Tool (lookup)" in md and "Tool call `lookup`" in md
    assert "A ca\n" not in md  # the failed sibling is not on the shown branch
    assert "other branches" in md
    assert md.index("## User") < md.index("## Assistant")


def test_markdown_of_a_failed_answer_says_so(store: Store) -> None:
    cid = _rich_conversation(store)  # shows the failed branch
    md = export_conversation(store, cid, "md")
    assert "> **Failed:** The connection dropped." in md
    assert "failed*" in md


def test_no_key_in_any_export(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_API_KEY_EURI", FAKE_KEY)
    spec = load_catalog().providers["euri"]
    request = ChatRequest(
        provider="euri", model="gpt-4.1-mini", messages=[Message(role="user", content="hi")]
    )
    wire = build_wire_request(spec, request)
    assert FAKE_KEY in json.dumps(auth_headers(spec, FAKE_KEY))  # the key travels in headers
    cid, last = store.start_from_request(request)
    answer = store.begin_answer(cid, last, wire.body, "euri", "gpt-4.1-mini")
    store.finish_answer(answer, text="hello")
    # Even a body that wrongly carried the key (a bug elsewhere) is scrubbed on export.
    leaky = store.begin_answer(cid, last, {"api_key": FAKE_KEY}, "euri", "gpt-4.1-mini")
    store.finish_answer(leaky, text=f"echo {FAKE_KEY}")
    for fmt in ("md", "json"):
        text = export_conversation(store, cid, fmt)  # type: ignore[arg-type]
        assert FAKE_KEY not in text
        assert FAKE_KEY[: len(FAKE_KEY) // 2] not in text
    assert export_json(store, cid)["messages"][1]["request_body"] == wire.body


def test_extra_secrets_are_scrubbed_too(store: Store) -> None:
    cid = store.create_conversation()
    store.add_message(cid, None, "user", "my key is kr-secret-from-the-keyring-123")
    text = export_conversation(store, cid, "json", secrets=["kr-secret-from-the-keyring-123"])
    assert "kr-secret-from-the-keyring-123" not in text and "[redacted]" in text


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("{not json", "not a JSON file"),
        ('{"hello": 1}', "not a Parley conversation export"),
        ('{"format": "parley.conversation", "version": 99}', "version 99"),
        ('{"format": "parley.conversation", "version": 1}', 'no "conversation"'),
    ],
)
def test_import_rejects_what_is_not_an_export(store: Store, data: str, words: str) -> None:
    with pytest.raises(StoreError) as info:
        import_json(store, data)
    assert info.value.kind is StoreErrorKind.INVALID
    assert words in info.value.message


def _export_with(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": "parley.conversation",
        "version": 1,
        "conversation": {"title": "t", "current_leaf_id": None},
        "messages": messages,
    }


@pytest.mark.parametrize(
    ("messages", "words"),
    [
        ([{"id": 1, "parent_id": 5, "role": "user", "text": "x"}], "names a parent 5"),
        (
            [
                {"id": 1, "parent_id": 2, "role": "user", "text": "x"},
                {"id": 2, "parent_id": 1, "role": "user", "text": "y"},
            ],
            "loop",
        ),
        ([{"id": 1, "parent_id": None, "role": "wizard", "text": "x"}], "role"),
        ([{"id": 1, "role": "user", "content": [{"type": "gif"}]}], "malformed"),
        ([{"parent_id": None, "role": "user"}], "id is missing"),
        (
            [
                {"id": 1, "parent_id": None, "role": "user", "text": "x"},
                {"id": 1, "parent_id": None, "role": "user", "text": "y"},
            ],
            "same id 1",
        ),
        ([{"id": [1], "parent_id": None, "role": "user", "text": "x"}], "malformed"),
    ],
)
def test_import_rejects_broken_messages_atomically(
    store: Store, messages: list[dict[str, Any]], words: str
) -> None:
    with pytest.raises(StoreError) as info:
        import_json(store, _export_with(messages))
    assert words in info.value.message
    assert store.count_conversations() == 0


def test_import_accepts_messages_in_any_order(store: Store) -> None:
    cid = import_json(
        store,
        _export_with(
            [
                {"id": "b", "parent_id": "a", "role": "assistant", "text": "answer"},
                {"id": "a", "parent_id": None, "role": "user", "text": "question"},
            ]
        ),
    )
    assert [m.text for m in store.current_path(cid)] == ["question", "answer"]


@given(
    shape=st.lists(st.tuples(st.integers(min_value=0), st.text(max_size=30)), max_size=25),
    leaf_pick=st.integers(min_value=0),
)
@settings(max_examples=40, deadline=None)
def test_round_trip_of_any_tree(shape: list[tuple[int, str]], leaf_pick: int) -> None:
    """Any tree of messages (each under a random earlier one, or a new root) survives a round
    trip, with its structure and shown branch."""
    with Store.open(":memory:") as store:
        cid = store.create_conversation(title="tree")
        ids: list[int] = []
        for parent_pick, text in shape:
            parent = (
                None
                if not ids or parent_pick % (len(ids) + 1) == len(ids)
                else ids[parent_pick % (len(ids) + 1)]
            )
            role = "user" if len(ids) % 2 == 0 else "assistant"
            ids.append(store.add_message(cid, parent, role, text))
        if ids:
            store.set_current_leaf(cid, ids[leaf_pick % len(ids)])
        first = export_json(store, cid)
        again = export_json(store, import_json(store, first))
        if not ids:
            assert again["messages"] == []
            return
        assert _normalised(again) == _normalised(first)


def test_exchanges_round_trip_through_json_and_carry_no_key(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_API_KEY_EURI", FAKE_KEY)
    cid = store.create_conversation(provider="euri", model="m")
    question = store.add_message(cid, None, "user", "hi")
    answer = store.begin_answer(cid, question, '{"model":"m"}', "euri", "m")
    records = [
        {
            "attempt": 1,
            "method": "POST",
            "url": "https://api.euron.one/api/v1/euri/chat/completions",
            "request_headers": {"Authorization": "Bearer [key redacted]"},
            "started_at": 1.5,
            "status": 200,
            "response_headers": {"x-echo": FAKE_KEY},  # a provider echoing the key
            "events": [[12.5, 'data: {"choices":[]}'], [13.0, "data: [DONE]"]],
            "truncated": False,
            "first_content_ms": 12.5,
            "first_content_event": 0,
            "duration_ms": 14.0,
            "error": None,
        }
    ]
    store.finish_answer(answer, text="hello", exchange=records)
    exported = export_conversation(store, cid, "json")
    assert FAKE_KEY not in exported
    data = json.loads(exported)
    (stored,) = data["messages"][1]["exchange"]
    assert stored["events"] == records[0]["events"]
    assert stored["response_headers"] == {"x-echo": "[redacted]"}
    assert data["messages"][1]["request_body"] == {"model": "m"}
    new_cid = import_json(store, exported)
    new_answer = store.current_path(new_cid)[-1]
    (back,) = store.exchanges(new_answer.id)
    assert back.to_dict() == stored
    assert new_answer.request_body_text == '{"model":"m"}'  # the exact bytes, from the export
