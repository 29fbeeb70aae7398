"""Import of files as an attacker or a damaged disk makes them: refused with a clear message,
or imported so that both exports, reading the branch and the context sent all still work."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from parley.core.chat.session import context_message
from parley.core.protocol.errors import ErrorKind, ParleyError
from parley.core.protocol.events import Meta, Usage
from parley.core.protocol.request import ImagePart, TextPart
from parley.core.store import Store, StoreError, StoreErrorKind
from parley.core.store.export import export_json, export_json_text, export_markdown, import_json
from tests.helpers.images import PNG_BASE64

SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
MESSAGE_FIELDS = [
    "id", "parent_id", "role", "text", "content", "reasoning", "refusal", "tool_calls",
    "tool_call_id", "name", "status", "error", "finish_reason", "request_body", "provider",
    "model", "model_used", "meta", "usage", "metrics", "cost", "extra", "created_at", "updated_at",
]  # fmt: skip
CONVERSATION_FIELDS = [
    "title", "title_set", "system_prompt", "provider", "model", "params", "advanced", "preset",
    "pinned", "session_id", "draft", "current_leaf_id", "created_at",
]  # fmt: skip


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    with Store.open(":memory:") as s:
        yield s


@pytest.fixture(scope="module")
def sample(store: Store) -> dict[str, Any]:
    """A rich export: branches, an image, usage, metrics, an error."""
    cid = store.create_conversation(title="Sample", system_prompt="Be brief.", params={"t": 1})
    u = store.add_message(cid, None, "user", [TextPart(text="Look"), ImagePart(data=PNG_BASE64)])
    a = store.begin_answer(cid, u, {"model": "m"}, "euri", "m")
    store.finish_answer(
        a, text="A picture.", usage=Usage(3, 4, 7), meta=Meta(model="m2"), cost=0.01,
        metrics={"ttft_ms": 12.5, "total_ms": 40.0, "tokens_per_s": 9.0},
    )  # fmt: skip
    b = store.begin_answer(cid, u, {"model": "m"}, "euri", "m")
    store.finish_answer(
        b, text="", status="failed",
        error=ParleyError(ErrorKind.SERVER, "It broke.", provider="euri", status=503),
    )  # fmt: skip
    return export_json(store, cid)


def still_works(store: Store, cid: int) -> None:
    """What the window and the exports do with an imported conversation."""
    export_markdown(store, cid)
    again = export_json_text(store, cid)
    for m in store.current_path(cid):
        context_message(m)
        if isinstance(m.content, list):
            for part in m.content:
                if isinstance(part, ImagePart) and part.data is not None:
                    base64.b64decode(part.data, validate=True)
    for m in store.messages(cid):
        for value in (m.usage, m.metrics, m.error):
            assert value is None or isinstance(value, dict)
    store.delete_conversation(import_json(store, again))  # and it imports again


def attempt(store: Store, data: Any) -> int | None:
    try:
        cid = import_json(store, data if isinstance(data, (str, bytes)) else json.dumps(data))
    except StoreError as err:
        assert err.kind is StoreErrorKind.INVALID
        assert len(err.message) < 600 and "Traceback" not in err.message
        return None
    still_works(store, cid)
    store.delete_conversation(cid)
    return cid


@SETTINGS
@given(field=st.sampled_from(MESSAGE_FIELDS), value=JSON, which=st.integers(0, 2))
def test_any_value_in_any_message_field(
    store: Store, sample: dict[str, Any], field: str, value: Any, which: int
) -> None:
    data = json.loads(json.dumps(sample))
    data["messages"][which][field] = value
    attempt(store, data)


@SETTINGS
@given(field=st.sampled_from(CONVERSATION_FIELDS), value=JSON)
def test_any_value_in_any_conversation_field(
    store: Store, sample: dict[str, Any], field: str, value: Any
) -> None:
    data = json.loads(json.dumps(sample))
    data["conversation"][field] = value
    attempt(store, data)


@SETTINGS
@given(
    field=st.sampled_from(["usage", "metrics", "error", "meta", "request_body", "extra"]),
    levels=st.integers(1, 20_000),
)
@example(field="usage", levels=60)  # the deepest that imports
@example(field="usage", levels=61)  # one level too deep
def test_nesting_of_any_depth(
    store: Store, sample: dict[str, Any], field: str, levels: int
) -> None:
    text = json.dumps(sample).replace(
        '"format"', f'"{field}_x": {"[" * levels}{"]" * levels}, "format"', 1
    )
    data = json.loads(text) if levels < 500 else None
    if data is not None:
        data["messages"][1][field] = {"deep": json.loads("[" * levels + "]" * levels)}
    imported = attempt(store, text if data is None else data)
    # The deepest part is the message field: the file, "messages", the message, the field's
    # object, then the levels themselves.
    assert (imported is not None) == (levels + 4 <= 64)


@SETTINGS
@given(junk=st.binary(min_size=1, max_size=40), at=st.integers(0, 10_000))
def test_bytes_that_are_not_utf8_anywhere(
    store: Store, sample: dict[str, Any], junk: bytes, at: int
) -> None:
    raw = json.dumps(sample, ensure_ascii=False).encode()
    at %= len(raw)
    attempt(store, raw[:at] + junk + raw[at:])


@SETTINGS
@given(
    when=st.one_of(
        st.floats(allow_nan=False), st.integers(-(10**20), 10**20), st.sampled_from([1e300, -1])
    ),
    field=st.sampled_from(["created_at", "updated_at"]),
)
def test_timestamps_of_any_size(
    store: Store, sample: dict[str, Any], when: float, field: str
) -> None:
    data = json.loads(json.dumps(sample))
    data["messages"][0][field] = when
    data["conversation"]["created_at"] = when
    imported = attempt(store, data)
    assert (imported is not None) == (0 <= when <= 253_402_300_799)


@SETTINGS
@given(
    payload=st.text(max_size=30)
    | st.binary(max_size=30).map(lambda b: base64.b64encode(b).decode())
)
def test_image_data_that_may_not_be_base64(
    store: Store, sample: dict[str, Any], payload: str
) -> None:
    data = json.loads(json.dumps(sample))
    data["messages"][0]["content"][1]["data"] = payload
    try:
        base64.b64decode(payload, validate=True)
        valid = True
    except ValueError:
        valid = False
    assert (attempt(store, data) is not None) == valid


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"usage": "lots"}, "usage"),
        ({"error": "it broke"}, "error"),
        ({"metrics": {"ttft_ms": "fast"}}, "metrics.ttft_ms"),
        ({"created_at": 1e300}, "between 1970 and 9999"),
        ({"content": [{"type": "image", "data": "not base64!"}]}, "base64"),
        ({"cost": -1}, "cost"),
    ],
)
def test_the_message_names_the_message_and_the_field(
    store: Store, sample: dict[str, Any], change: dict[str, Any], words: str
) -> None:
    data = json.loads(json.dumps(sample))
    data["messages"][1].update(change)
    with pytest.raises(StoreError) as info:
        import_json(store, json.dumps(data))
    message = info.value.message
    assert "Message 2" in message and words in message, message


def test_a_10000_message_chain_given_in_reverse_imports_in_order(store: Store) -> None:
    n = 10_000
    chain = [
        {"id": f"m{i}", "parent_id": f"m{i - 1}" if i else None,
         "role": "user" if i % 2 == 0 else "assistant", "text": f"message {i}"}
        for i in range(n)
    ]  # fmt: skip
    shuffled = chain[::-1]
    random.Random(1).shuffle(shuffled[: n // 2])  # and partly shuffled
    data = {"format": "parley.conversation", "version": 1,
            "conversation": {"title": "long", "current_leaf_id": f"m{n - 1}"},
            "messages": shuffled}  # fmt: skip
    cid = import_json(store, json.dumps(data))
    path = store.current_path(cid)
    assert [m.text for m in path] == [f"message {i}" for i in range(n)]
    assert [m.id for m in path] == sorted(m.id for m in path)


def test_import_from_the_cli_of_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    # the same through bytes read from a real file
    path = tmp_path / "export.json"
    path.write_bytes(b'{"format": "parley.conversation", "version": 1, "x": "\xff\xfe"}')
    with Store.open(tmp_path / "h.sqlite3") as s, pytest.raises(StoreError) as info:
        import_json(s, path.read_bytes())
    assert "not text (UTF-8)" in info.value.message
