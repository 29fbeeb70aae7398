"""Turn a chat request plus a Behavior into the bytes to send (as a list of write operations)."""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from typing import Any

from .behavior import Behavior
from .dialects import ChoiceOut, Ctx, Dialect, tokens

# A private-use character marks where invalid UTF-8 goes once a chunk is serialised.
_BAD_UTF8_MARK = "\U000f0000"
_BAD_UTF8_BYTES = b"\xc3\x28\xff\xfe"

# Write operations: ("data", payload) is one SSE event; ("comment", line); ("raw", bytes);
# ("sleep", seconds); ("abort",) closes the socket at once.
Op = tuple[Any, ...]


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    chunked: bool  # streamed with Transfer-Encoding: chunked; else Content-Length
    ops: list[Op] = field(default_factory=list)
    content_length: int | None = None
    crlf: bool = False
    close: bool = False  # Connection: close; a stream then ends by closing (no chunked framing)
    fragment: int | None = None  # write the body in pieces of this many bytes


def dumps(obj: Any) -> bytes:
    try:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:  # a lone surrogate: sent as a \ud800 escape, as real servers do
        return json.dumps(obj, separators=(",", ":")).encode()


def _dumps_marked(obj: Any) -> bytes:
    return dumps(obj).replace(_BAD_UTF8_MARK.encode(), _BAD_UTF8_BYTES)


# --- reading the request ---------------------------------------------------------------------


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict):
                if part.get("type") == "text":
                    parts.append(str(part.get("text", "")))
                else:
                    parts.append(f"[{part.get('type', 'part')}]")
        return " ".join(parts)
    return ""


def last_user_text(body: dict[str, Any]) -> str:
    messages = body.get("messages")
    if isinstance(messages, list):
        for m in reversed(messages):
            if isinstance(m, dict) and m.get("role") == "user":
                return _content_text(m.get("content"))
    return ""


def prompt_tokens(body: dict[str, Any]) -> int:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return 0
    chars = sum(len(_content_text(m.get("content"))) + 4 for m in messages if isinstance(m, dict))
    return max(1, (chars + 3) // 4)


def default_reply(user_text: str) -> str:
    return (
        f"You said: {user_text}\n\n"
        "Here is **some markdown** for the renderer:\n\n"
        "- a list item\n"
        "- `inline code`\n\n"
        "```python\n"
        f"def echo() -> str:\n    return {user_text!r}\n"
        "```\n"
    )


_WORDS = (  # noqa: SIM905 - a sentence reads better than a list of words
    "quick brown fox jumps over the lazy dog while a red sly small swift quiet wild fox "
    "runs past an old barn under pale moon and bright stars near the river bank at dawn"
).split()


def sampled_reply(body: dict[str, Any]) -> str:
    """A short sentence "sampled" as a model would: fixed by `seed` (with the prompt and the
    temperature) when the request has one, drawn afresh otherwise."""
    seed = body.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool):
        rng = random.Random(f"{seed}|{last_user_text(body)}|{body.get('temperature')}")
    else:
        rng = random.Random()
    words = [rng.choice(_WORDS) for _ in range(8)]
    return "The " + " ".join(words) + f" ({rng.randrange(10**6):06d})."


def _schema_sample(schema: Any, depth: int = 0) -> Any:
    if not isinstance(schema, dict) or depth > 8:
        return None
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return _schema_sample(schema[key][0], depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties")
        if not isinstance(props, dict):
            return {}
        return {k: _schema_sample(v, depth + 1) for k, v in props.items()}
    if kind == "array":
        return [_schema_sample(schema.get("items"), depth + 1)]
    return {"string": "example", "integer": 1, "number": 1.5, "boolean": True}.get(str(kind))


def _json_requested(body: dict[str, Any]) -> Any:
    """The JSON value to reply with when response_format asks for JSON, else None."""
    rf = body.get("response_format")
    if not isinstance(rf, dict):
        return None
    if "OfJSONSchema" in rf:  # the Go-SDK wrapper spelling from Nordlys' docs
        rf = rf["OfJSONSchema"] if isinstance(rf["OfJSONSchema"], dict) else {}
        rf = {"type": "json_schema", **rf}
    elif "OfJSONObject" in rf:
        rf = {"type": "json_object"}
    if rf.get("type") == "json_object":
        return {"reply": f"You said: {last_user_text(body)}", "ok": True}
    if rf.get("type") == "json_schema":
        js = rf.get("json_schema")
        schema = js.get("schema") if isinstance(js, dict) else None
        sample = _schema_sample(schema)
        return sample if sample is not None else {}
    return None


def choice_outputs(ctx: Ctx, dialect: Dialect, n: int) -> list[ChoiceOut]:
    b = ctx.behavior
    json_value = None
    if b.json_reply is not None and b.json_reply is not False:
        if b.json_reply is True:
            json_value = {"reply": f"You said: {last_user_text(ctx.body)}", "ok": True}
        else:
            json_value = b.json_reply
    else:
        json_value = _json_requested(ctx.body)

    out = []
    for j in range(n):
        text: str | None
        if json_value is not None:
            text = json.dumps(json_value, ensure_ascii=False)
        elif b.text is not None:
            text = b.text
        elif (b.tool_calls and dialect.client_tools) or b.refusal is not None:
            text = None
        elif b.sampled:
            text = sampled_reply(ctx.body)
        else:
            text = default_reply(last_user_text(ctx.body))
        if j > 0 and text is not None and json_value is None:
            text = f"Choice {j + 1}: {text}"
        calls = []
        for k, call in enumerate(b.tool_calls if dialect.client_tools else []):
            args = call.get("arguments", {})
            args_text = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
            calls.append((f"call_emu{ctx.seq}_{j}_{k}", str(call.get("name", "tool")), args_text))
        finish = b.finish_reason or ("tool_calls" if calls else "stop")
        if b.no_finish or b.no_done:
            finish_out: str | None = None
        else:
            finish_out = finish
        out.append(
            ChoiceOut(
                index=j,
                reasoning=b.reasoning,
                text=text,
                refusal=b.refusal,
                tool_calls=calls,
                finish_reason=finish_out,
            )
        )
    return out


def _pieces(text: str, size: int) -> list[str]:
    size = max(1, size)
    return [text[i : i + size] for i in range(0, len(text), size)]


# Deterministic log-probabilities by token position: mostly sure, now and then unsure, so a
# heatmap has every shade to show. The alternatives share what the token left over.
_LOGPROB_CYCLE = (-0.01, -0.05, -0.2, -0.02, -0.7, -0.1, -1.6, -0.03, -0.4, -2.5, -0.08)


def logprob_at(i: int) -> float:
    """The log-probability the emulator gives the token at position `i` of a choice."""
    return _LOGPROB_CYCLE[i % len(_LOGPROB_CYCLE)]


def _logprob_entry(token: str, i: int, k: int) -> dict[str, Any]:
    lp = logprob_at(i)
    left = max(1e-4, 1.0 - math.exp(lp))
    top = [{"token": token, "logprob": lp, "bytes": list(token.encode())}]
    for m in range(1, k):
        alt = f" {_WORDS[(i * 5 + m * 3) % len(_WORDS)]}"  # a plausible other word
        if alt == token:
            alt += "s"
        share = left * 0.6 / (2 ** (m - 1))
        top.append(
            {"token": alt, "logprob": round(math.log(share), 4), "bytes": list(alt.encode())}
        )
    top.sort(key=lambda t: -float(t["logprob"]))
    return {"token": token, "logprob": lp, "bytes": list(token.encode()), "top_logprobs": top[:k]}


def _usage(ctx: Ctx, dialect: Dialect, choices: list[ChoiceOut]) -> dict[str, Any]:
    b = ctx.behavior
    reasoning = sum(tokens(c.reasoning) for c in choices)
    completion = reasoning + sum(
        tokens(c.text) + tokens(c.refusal) + sum(tokens(a) + 3 for _, _, a in c.tool_calls)
        for c in choices
    )
    if b.huge_chunk:
        completion += (b.huge_chunk + 3) // 4 * len(choices)
    usage = dialect.usage(prompt_tokens(ctx.body), completion, reasoning, b.cached_tokens)
    if b.usage:
        usage.update(b.usage)
    return usage


def _huge_text(n: int) -> str:
    unit = "lorem ipsum dolor sit amet "
    return (unit * (n // len(unit) + 1))[:n]


# --- stream ------------------------------------------------------------------------------------


def _choice_deltas(
    ctx: Ctx, dialect: Dialect, ch: ChoiceOut
) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    b = ctx.behavior
    size = b.chunk_chars
    deltas: list[tuple[dict[str, Any], dict[str, Any] | None]] = [
        ({"role": "assistant", "content": ""}, None)
    ]
    inline_think = b.think_tags or dialect.reasoning_field is None
    if ch.reasoning:
        if inline_think:
            pieces = ["<think>", *_pieces(ch.reasoning, size), "</think>\n\n"]
            deltas += [({"content": p}, None) for p in pieces]
        else:
            field_name = dialect.reasoning_field or "reasoning_content"
            deltas += [({field_name: p}, None) for p in _pieces(ch.reasoning, size)]
    content: list[str] = []
    if b.huge_chunk:
        content.append(_huge_text(b.huge_chunk))
    if ch.text:
        content += _pieces(ch.text, size)
    if b.invalid_utf8:
        if not content:
            content.append("")
        at = min(1, len(content) - 1)
        content[at] = content[at] + _BAD_UTF8_MARK
    k = ctx.top_logprobs
    for i, piece in enumerate(content):
        lp = None
        if ctx.wants_logprobs:
            lp = {"content": [_logprob_entry(piece, i, k)], "refusal": None}
        deltas.append(({"content": piece}, lp))
    if ch.refusal:
        deltas += [({"refusal": p}, None) for p in _pieces(ch.refusal, size)]
    for t, (cid, name, args) in enumerate(ch.tool_calls):
        deltas.append(
            (
                {
                    "tool_calls": [
                        {
                            "index": t,
                            "id": cid,
                            "type": "function",
                            "function": {"name": name, "arguments": ""},
                        }
                    ]
                },
                None,
            )
        )
        for piece in _pieces(args, size):
            deltas.append(({"tool_calls": [{"index": t, "function": {"arguments": piece}}]}, None))
    return deltas


def stream_reply(ctx: Ctx, dialect: Dialect, n: int) -> Reply:
    b = ctx.behavior
    choices = choice_outputs(ctx, dialect, n)
    per_choice = [_choice_deltas(ctx, dialect, ch) for ch in choices]
    events: list[Any] = []
    for i in range(max(len(d) for d in per_choice)):
        for ch, deltas in zip(choices, per_choice, strict=True):
            if i < len(deltas):
                delta, lp = deltas[i]
                events.append(dialect.chunk(ctx, ch.index, delta, lp, None))
    if not (b.no_done or b.no_finish):
        for ch in choices:
            events.append(dialect.chunk(ctx, ch.index, {}, None, ch.finish_reason))
    if ctx.wants_usage and not b.no_done:
        events.append(dialect.usage_chunk(ctx, _usage(ctx, dialect, choices)))
    if not b.no_done:
        events = dialect.stream_extras(ctx, events)
    payloads = [_dumps_marked(e) for e in events]

    ops: list[Op] = []
    send_done = not b.no_done
    count = len(payloads)
    for i in range(count + 1):

        def due(k: int | None, i: int = i) -> bool:
            return k is not None and min(max(k, 0), count) == i

        if 0 < i < count and b.chunk_delay > 0:
            ops.append(("sleep", b.chunk_delay))
        if due(b.pause_after) and b.pause > 0:
            ops.append(("sleep", b.pause))
        if due(b.malformed_after):
            ops.append(("data", b"{not json"))
        if due(b.in_stream_error_after):
            message = b.message or "The upstream provider failed mid-stream"
            ops += [("data", dumps(e)) for e in dialect.in_stream_error(ctx, message)]
            send_done = send_done and dialect.done_after_stream_error
            break
        if due(b.disconnect_after):
            ops.append(("abort",))
            return Reply(200, _stream_headers(ctx, dialect), True, ops, crlf=b.crlf)
        if i == count:
            break
        if b.sse_comments:
            ops.append(("comment", b": keep-alive"))
        ops.append(("data", payloads[i]))
    if send_done:
        ops.append(("data", b"[DONE]"))
    return Reply(200, _stream_headers(ctx, dialect), True, ops, crlf=b.crlf)


def _stream_headers(ctx: Ctx, dialect: Dialect) -> dict[str, str]:
    headers = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}
    headers.update(dialect.response_headers(ctx))
    headers.update(ctx.behavior.headers)
    return headers


# --- non-stream ----------------------------------------------------------------------------------


def json_reply(ctx: Ctx, dialect: Dialect, n: int) -> Reply:
    b = ctx.behavior
    choices = choice_outputs(ctx, dialect, n)
    if b.huge_chunk:
        for ch in choices:
            ch.text = _huge_text(b.huge_chunk) + (ch.text or "")
    if b.invalid_utf8:
        for ch in choices:
            ch.text = (ch.text or "") + _BAD_UTF8_MARK
    logprobs = {}
    if ctx.wants_logprobs:
        for ch in choices:
            logprobs[ch.index] = {
                "content": [
                    _logprob_entry(p, i, ctx.top_logprobs)
                    for i, p in enumerate(_pieces(ch.text or "", b.chunk_chars))
                ],
                "refusal": None,
            }
    if ch_reason_inline(ctx, dialect):
        for ch in choices:
            if ch.reasoning:
                ch.text = f"<think>{ch.reasoning}</think>\n\n{ch.text or ''}"
                ch.reasoning = None
    body = _dumps_marked(dialect.response(ctx, choices, _usage(ctx, dialect, choices), logprobs))
    if b.malformed_after is not None:
        body = body[: max(1, len(body) // 2)] + b"{not json"
    headers = {"content-type": "application/json"}
    headers.update(dialect.response_headers(ctx))
    headers.update(b.headers)
    ops: list[Op] = []
    if b.disconnect_after is not None:
        ops += [("raw", body[: len(body) // 2]), ("abort",)]
    else:
        ops.append(("raw", body))
    return Reply(200, headers, False, ops, content_length=len(body))


def ch_reason_inline(ctx: Ctx, dialect: Dialect) -> bool:
    return ctx.behavior.think_tags or dialect.reasoning_field is None


def error_reply(
    status: int, body: Any, headers: dict[str, str], content_type: str | None = None
) -> Reply:
    if isinstance(body, bytes):
        data = body
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = dumps(body)
    if content_type is None:
        try:
            json.loads(data)
            content_type = "application/json"
        except (ValueError, RecursionError):
            content_type = "text/plain; charset=utf-8"
    out = {"content-type": content_type}
    out.update(headers)
    return Reply(status, out, False, [("raw", data)], content_length=len(data))


def html_page(status: int) -> bytes:
    return (
        f"<html>\r\n<head><title>{status} Bad Gateway</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


def behavior_error(ctx: Ctx, dialect: Dialect, b: Behavior) -> Reply | None:
    """The error reply a Behavior asks for, or None for a normal reply."""
    extra = dict(dialect.response_headers(ctx))
    extra.update(b.headers)
    if b.html_error:
        status = b.status or 502
        return error_reply(status, html_page(status), extra, "text/html")
    if b.body is not None:
        return error_reply(b.status or 200, b.body, extra)
    if b.status is not None:
        if b.status < 400:
            return None
        return error_reply(b.status, dialect.error_body(b.status, b.message, ctx.request_id), extra)
    return None
