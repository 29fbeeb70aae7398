"""Code that sends the exact request again, outside Parley: curl, Python (httpx), JavaScript.

A snippet is made from the request as shown (headers with the key redacted, the body text) and
reads the key from `PARLEY_API_KEY_<ID>` at run time, so it never contains it. Without that
variable it still runs and the provider answers 401.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping

from parley.core.protocol.errors import redact

KEY_MARK = "[key redacted]"


def env_name(provider_id: str) -> str:
    return "PARLEY_API_KEY_" + provider_id.upper().replace("-", "_")


def _split(
    headers: Mapping[str, str], secrets: Iterable[str | None]
) -> tuple[dict[str, str], dict[str, str]]:
    """(plain headers, key headers as their prefix before the key: "Bearer " or "")."""
    plain: dict[str, str] = {}
    keyed: dict[str, str] = {}
    for name, value in headers.items():
        if KEY_MARK in value:
            keyed[name] = value.split(KEY_MARK, 1)[0]
        else:
            plain[name] = redact(value, secrets)
    return plain, keyed


def _streams(body: str) -> bool:
    try:
        parsed = json.loads(body)
    except ValueError:
        return False
    return isinstance(parsed, dict) and parsed.get("stream") is True


def curl_snippet(
    url: str,
    headers: Mapping[str, str],
    body: str,
    provider_id: str,
    secrets: Iterable[str | None] = (),
) -> str:
    secrets = list(secrets)
    plain, keyed = _split(headers, secrets)
    var = env_name(provider_id)
    options = "-sS --fail-with-body" + (" -N" if _streams(body) else "")
    lines = [f"curl {options} -X POST {shlex.quote(url)}"]
    lines += [f"  -H {shlex.quote(f'{name}: {value}')}" for name, value in plain.items()]
    # Double quotes so the shell puts the key in; nothing else in them is special.
    lines += [f'  -H "{name}: {prefix}${var}"' for name, prefix in keyed.items()]
    lines.append("  --data-binary @- <<'PARLEY_BODY'")
    return " \\\n".join(lines) + "\n" + redact(body, secrets) + "\nPARLEY_BODY\n"


def python_snippet(
    url: str,
    headers: Mapping[str, str],
    body: str,
    provider_id: str,
    secrets: Iterable[str | None] = (),
) -> str:
    secrets = list(secrets)
    plain, keyed = _split(headers, secrets)
    var = env_name(provider_id)
    out = [
        "import os",
        "import sys",
        "",
        "import httpx",
        "",
        f"url = {url!r}",
        f"headers = {json.dumps(plain, indent=4, ensure_ascii=False)}",
    ]
    out += [
        f"headers[{name!r}] = ({prefix!r} + os.environ.get({var!r}, '')).strip()"
        for name, prefix in keyed.items()
    ]
    out.append(f"body = {redact(body, secrets)!r}")
    out += [
        "",
        'with httpx.stream("POST", url, headers=headers, content=body.encode(), timeout=120) as r:',
        "    print(r.status_code, file=sys.stderr)",
        "    for line in r.iter_lines():",
        "        print(line)",
        "sys.exit(0 if r.status_code < 400 else 1)",
    ]
    return "\n".join(out) + "\n"


def js_snippet(
    url: str,
    headers: Mapping[str, str],
    body: str,
    provider_id: str,
    secrets: Iterable[str | None] = (),
) -> str:
    """For Node 18+ (an ES module: save as .mjs) or a browser console."""
    secrets = list(secrets)
    plain, keyed = _split(headers, secrets)
    var = env_name(provider_id)
    plain.pop("User-Agent", None)  # browsers refuse to set it
    out = [
        f"const url = {json.dumps(url)};",
        f"const headers = {json.dumps(plain, indent=2, ensure_ascii=False)};",
    ]
    out += [
        f'headers[{json.dumps(name)}] = {json.dumps(prefix)} + (process.env.{var} ?? "");'
        for name, prefix in keyed.items()
    ]
    out += [
        f"const body = {json.dumps(redact(body, secrets), ensure_ascii=False)};",
        "",
        'const res = await fetch(url, { method: "POST", headers, body });',
        "console.error(res.status);",
        "const decoder = new TextDecoder();",
        "for await (const chunk of res.body) process.stdout.write(decoder.decode(chunk));",
        "process.exitCode = res.ok ? 0 : 1;",
    ]
    return "\n".join(out) + "\n"


def json_snippet(body: str, secrets: Iterable[str | None] = ()) -> str:
    """The exact request body."""
    return redact(body, list(secrets))


SNIPPETS = {"curl": curl_snippet, "python": python_snippet, "js": js_snippet}
