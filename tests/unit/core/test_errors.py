"""parse_error over every error body shape in NOTES.md §4, Retry-After forms and key redaction."""

from __future__ import annotations

import email.utils
import json
import time

import pytest

from parley.core.protocol.errors import REDACTED, ErrorKind, ParleyError, redact
from parley.core.providers.decode import parse_error, parse_retry_after

KEY = "sk-live-ABCDEFGHIJKLMNOPQRSTUVWX"


@pytest.mark.parametrize(
    ("status", "body", "kind", "said", "code"),
    [
        # EURI: {"error":{message,type,code}}; 403 token limit is a quota error, not auth.
        (
            403,
            {
                "error": {
                    "message": "Daily token limit exceeded",
                    "type": "forbidden_error",
                    "code": "token_limit_exceeded",
                }
            },
            ErrorKind.QUOTA,
            "Daily token limit exceeded",
            "token_limit_exceeded",
        ),
        (
            403,
            {"error": {"message": "Insufficient wallet balance", "type": "forbidden_error"}},
            ErrorKind.QUOTA,
            "Insufficient wallet balance",
            "forbidden_error",
        ),
        (
            401,
            {
                "error": {
                    "message": "Invalid API key",
                    "type": "authentication_error",
                    "code": "invalid_api_key",
                }
            },
            ErrorKind.AUTH,
            "Invalid API key",
            "invalid_api_key",
        ),
        # EUrouter: {"error":{code,message},"requestId"}
        (
            402,
            {
                "error": {"code": "INSUFFICIENT_QUOTA", "message": "Not enough credits"},
                "requestId": "req-9",
            },
            ErrorKind.BUDGET,
            "Not enough credits",
            "INSUFFICIENT_QUOTA",
        ),
        (
            404,
            {"error": {"code": "NOT_FOUND", "message": "Model not found"}, "requestId": "req-1"},
            ErrorKind.BAD_REQUEST,
            "Model not found",
            "NOT_FOUND",
        ),
        (
            503,
            {"error": {"code": "SERVICE_UNAVAILABLE", "message": "No provider available"}},
            ErrorKind.SERVER,
            "No provider available",
            "SERVICE_UNAVAILABLE",
        ),
        (
            403,
            {"error": {"code": "FORBIDDEN", "message": "Organisation access denied"}},
            ErrorKind.FORBIDDEN,
            "Organisation access denied",
            "FORBIDDEN",
        ),
        # Nordlys: object error and the middleware's strings.
        (
            429,
            {
                "error": {
                    "message": "Too many",
                    "type": "rate_limit_error",
                    "code": "rate_limit_exceeded",
                }
            },
            ErrorKind.RATE_LIMIT,
            "Too many",
            "rate_limit_exceeded",
        ),
        (429, {"error": "Rate limit exceeded"}, ErrorKind.RATE_LIMIT, "Rate limit exceeded", None),
        (402, {"error": "Budget limit exceeded"}, ErrorKind.BUDGET, "Budget limit exceeded", None),
        (
            500,
            {
                "error": {
                    "message": "completion failed",
                    "type": "internal_error",
                    "code": "completion_failed",
                }
            },
            ErrorKind.SERVER,
            "completion failed",
            "completion_failed",
        ),
        # Adaptive Engine: plain string, EntityNotFound prefix; 403 bad key.
        (
            400,
            {"error": "EntityNotFound: use case 'x' not found"},
            ErrorKind.BAD_REQUEST,
            "EntityNotFound: use case 'x' not found",
            None,
        ),
        (403, {"error": "Invalid API key"}, ErrorKind.AUTH, "Invalid API key", None),
        # Mistral/vLLM style {"object":"error","message":...}
        (
            422,
            {
                "object": "error",
                "message": "max_tokens too large",
                "type": "BadRequestError",
                "code": 400,
            },
            ErrorKind.BAD_REQUEST,
            "max_tokens too large",
            "400",
        ),
        # FastAPI-style detail, string and list.
        (413, {"detail": "Payload too large"}, ErrorKind.BAD_REQUEST, "Payload too large", None),
        (
            422,
            {
                "detail": [
                    {"loc": ["body", "temperature"], "msg": "must be <= 2", "type": "value_error"}
                ]
            },
            ErrorKind.BAD_REQUEST,
            "temperature: must be <= 2",
            None,
        ),
        (
            429,
            {"error": {"message": "You exceeded your quota", "code": "insufficient_quota"}},
            ErrorKind.QUOTA,
            "You exceeded your quota",
            "insufficient_quota",
        ),
        (418, {"unexpected": 1}, ErrorKind.BAD_REQUEST, None, None),
        (502, [{"error": {"message": "bad gateway"}}], ErrorKind.SERVER, "bad gateway", None),
    ],
)
def test_body_shapes(
    status: int, body: object, kind: ErrorKind, said: str | None, code: str | None
) -> None:
    err = parse_error("Prov", status, json.dumps(body), {}, [KEY])
    assert err.kind is kind
    assert err.status == status
    assert err.provider_message == said
    assert err.code == code
    assert "Prov" in err.message
    if said:
        assert said in str(err)


def test_auth_message_names_provider_and_keys() -> None:
    err = parse_error("EURI", 401, '{"error":{"message":"bad"}}', {}, [])
    assert err.message == "The key for EURI was refused. Check it in Keys."
    assert err.exit_code == 3 and not err.retryable


def test_quota_message() -> None:
    body = '{"error":{"code":"token_limit_exceeded","message":"limit"}}'
    err = parse_error("EURI", 403, body, {}, [], provider_id="euri")
    assert "daily token limit reached or wallet empty" in err.message
    assert "midnight UTC" in err.message
    assert not err.retryable
    # Another provider's 403 quota reply is not described in EURI's terms.
    other = parse_error("Nordlys", 403, body, {}, [], provider_id="nordlys")
    assert other.kind is err.kind and "quota or balance is used up" in other.message
    assert "midnight" not in other.message and "wallet" not in other.message


def test_request_id_from_body_or_headers() -> None:
    assert (
        parse_error("P", 500, '{"error":{"message":"x"},"requestId":"r-1"}', {}, []).request_id
        == "r-1"
    )
    assert parse_error("P", 500, "", {"X-Request-Id": "h-2"}, []).request_id == "h-2"


def test_html_page_gives_clean_text() -> None:
    page = (
        "<!DOCTYPE html><html><head><title>502 Bad Gateway</title><style>body{color:red}</style>"
        "<script>var x = '<b>';</script></head><body><center><h1>502 Bad Gateway</h1></center>"
        "<hr><center>nginx/1.25</center></body></html>"
    )
    err = parse_error("EigenAI", 502, page, {"content-type": "text/html"}, [])
    assert err.kind is ErrorKind.SERVER
    assert err.provider_message is not None
    assert "<" not in err.provider_message and ">" not in err.provider_message
    assert "color:red" not in err.provider_message and "var x" not in err.provider_message
    assert "502 Bad Gateway" in err.provider_message and "nginx" in err.provider_message


@pytest.mark.parametrize("body", ["", "   \n"])
def test_empty_body(body: str) -> None:
    err = parse_error("P", 500, body, {}, [])
    assert err.kind is ErrorKind.SERVER and err.provider_message is None
    assert str(err) == err.message


def test_plain_text_body_clipped() -> None:
    err = parse_error("P", 400, "x" * 5000, {}, [])
    assert err.provider_message is not None and len(err.provider_message) <= 500


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"Retry-After": "-3"}, None),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_seconds(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers) == expected


def test_retry_after_http_date() -> None:
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    got = parse_retry_after({"Retry-After": date}, now=now)
    assert got is not None and 29 <= got <= 31
    past = email.utils.formatdate(now - 100, usegmt=True)
    assert parse_retry_after({"Retry-After": past}, now=now) == 0.0


def test_retry_after_carried_and_in_message() -> None:
    err = parse_error("P", 429, "", {"Retry-After": "12"}, [])
    assert err.retry_after == 12.0 and "12 s" in err.message and err.retryable


@pytest.mark.parametrize(
    "echo",
    [
        KEY,
        KEY[:8] + "...",
        "..." + KEY[-10:],
        f"Incorrect API key provided: {KEY[:12]}**********{KEY[-4:]}",
    ],
)
def test_provider_message_is_redacted(echo: str) -> None:
    err = parse_error("P", 401, json.dumps({"error": {"message": f"bad key {echo}"}}), {}, [KEY])
    text = " ".join(str(v) for v in err.to_dict().values()) + str(err) + repr(err)
    assert KEY[:8] not in text and KEY[-8:] not in text
    assert REDACTED in (err.provider_message or "")


def test_redact_leaves_ordinary_text_and_short_secrets() -> None:
    assert redact("nothing to hide here", [KEY, None, ""]) == "nothing to hide here"
    assert redact("abc abc", ["abc"]) == "abc abc"  # too short to be a key
    assert redact("my key is abcd1234", ["abcd1234"]) == f"my key is {REDACTED}"


def test_repr_never_shows_messages() -> None:
    err = ParleyError(ErrorKind.AUTH, "m", provider_message=f"echo {KEY}", provider="P", status=401)
    assert KEY not in repr(err) and "echo" not in repr(err)


def test_overlapping_keys_are_redacted_whole_whichever_comes_first() -> None:
    long_key = "sk-live-abcdefghijklmnop-0123456789"
    short_key = "abcdefghijklmnop"  # a stretch of the long key
    text = f"keys: {long_key} and {short_key}"
    for order in ([short_key, long_key], [long_key, short_key]):
        out = redact(text, order)
        assert out == "keys: [redacted] and [redacted]", out
