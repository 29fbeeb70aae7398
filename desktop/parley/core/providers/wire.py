"""From a ChatRequest to one provider's HTTP request: URL, headers and JSON body.

The translation is driven by the provider file: each set parameter goes to its dotted wire path
(`reasoning.effort`, `provider.sort`, `chat_template_kwargs.thinking`), nested objects merge,
and the Advanced JSON is deep-merged last so it can override anything.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from parley import __version__
from parley.core.protocol.errors import ErrorKind, ParleyError, missing_key_error
from parley.core.protocol.request import ChatRequest, ImagePart, Message, TextPart, VideoPart
from parley.core.providers.catalog import AuthScheme, ProviderSpec
from parley.core.providers.params import normalize_value, validate_params

USER_AGENT = f"Parley/{__version__}"


@dataclass
class WireRequest:
    """What goes over the wire. `headers` never contain the API key (see `auth_headers`)."""

    url: str
    headers: dict[str, str]
    body: dict[str, Any]
    stream: bool = field(default=True)

    def body_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.body, indent=indent, ensure_ascii=False)


def _config_error(spec: ProviderSpec, message: str) -> ParleyError:
    return ParleyError(ErrorKind.CONFIG, message, provider=spec.name)


def auth_headers(spec: ProviderSpec, key: str | None) -> dict[str, str]:
    """The header carrying `key` for `spec`; {} when the provider takes no key."""
    if spec.auth.scheme is AuthScheme.NONE:
        return {}
    key = (key or "").strip()
    if not key:
        if spec.auth.required:
            raise missing_key_error(spec.name, spec.env_key_name)
        return {}
    if any(ord(c) < 32 or ord(c) == 127 for c in key) or not key.isascii():
        raise _config_error(
            spec,
            f"The API key for {spec.name} contains a line break, a non-ASCII letter or another "
            "character that cannot go in a header; paste it again in Keys",
        )
    if spec.auth.scheme is AuthScheme.BEARER:
        return {"Authorization": f"Bearer {key}"}
    return {spec.auth.header: key}


def _url(spec: ProviderSpec, req: ChatRequest) -> str:
    base = (req.base_url or spec.base_url).strip()
    if not base:
        like = f", like {spec.base_url_hint}" if spec.base_url_hint else ""
        raise _config_error(
            spec,
            f"{spec.name} needs your deployment's URL{like}: set the base URL in the "
            "provider's settings",
        )
    return join_url(spec, base, spec.chat_path)


def join_url(spec: ProviderSpec, base: str, path: str) -> str:
    """`base` (a provider's base URL) + `path`, keeping a query the base has (`?api-version=`),
    refusing a fragment and credentials in the URL (they would be shown, stored, and sent as
    Basic auth in place of the provider's key)."""
    base = base.strip()
    if not base.startswith(("http://", "https://")):
        shown = _without_credentials(base)
        raise _config_error(
            spec,
            f"The base URL for {spec.name} must start with http:// or https:// (it is {shown!r})",
        )
    try:
        parts = urlsplit(base)
        has_credentials = parts.username is not None or parts.password is not None
    except ValueError:
        raise _config_error(spec, f"The base URL for {spec.name} is not a valid URL.") from None
    if has_credentials:
        raise _config_error(
            spec,
            f"The base URL for {spec.name} has a user name or password in it "
            f"({_without_credentials(base)}). Put the key in Keys instead: Parley does not send "
            "credentials in URLs.",
        )
    if parts.fragment or base.endswith("#"):
        raise _config_error(
            spec,
            f"The base URL for {spec.name} has a #fragment ({'#' + parts.fragment}), which is "
            "never sent to a server; remove it.",
        )
    joined = parts.path.rstrip("/") + "/" + path.lstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, joined, parts.query, ""))


def _without_credentials(url: str) -> str:
    """`url` with any user:password@ part replaced by `…@`."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        authority = "…@" + authority.rsplit("@", 1)[1]
    return f"{scheme}{sep}{authority}{slash}{tail}"


def _model(spec: ProviderSpec, req: ChatRequest) -> str | None:
    """The model to send, or None when a routing parameter stands in for it."""
    model = req.model.strip()
    if spec.models.naming == "project":
        project, _, rest = model.partition("/")
        if not project or ("/" in model and not rest) or any(c.isspace() for c in model):
            got = f" (it is {req.model!r})" if model else ""
            raise _config_error(
                spec,
                f'{spec.name} needs the model as a project key, "project" or "project/model"{got}',
            )
        return model
    if model:
        return model
    standing_in = [n for n in spec.models.optional_when if req.params.get(n) is not None]
    if standing_in:
        return None
    alternatives = ""
    if spec.models.optional_when:
        alternatives = " (or set " + ", ".join(spec.models.optional_when) + ")"
    raise _config_error(spec, f"Choose a model for {spec.name}{alternatives}")


def _image_part(spec: ProviderSpec, part: ImagePart, where: str) -> dict[str, Any]:
    what = f"the image {part.name!r}" if part.name else "an image"
    if spec.quirks.string_content_only:
        raise _config_error(
            spec,
            f"{spec.name} accepts only text messages, but {where} has {what}; "
            "remove it or choose a provider that reads images",
        )
    if not spec.capabilities.vision:
        raise _config_error(
            spec,
            f"{spec.name} does not read images, but {where} has {what}; "
            "remove it or choose a provider that reads images",
        )
    url = part.data_uri() or part.url
    if not url:
        raise _config_error(spec, f"{what.capitalize()} in {where} has no data and no URL")
    if spec.quirks.image_data_uri_only and not url.startswith("data:"):
        raise _config_error(
            spec,
            f"{spec.name} takes images only as attached files (base64), not links; "
            f"{what} in {where} is {url[:60]!r}. Download it and attach the file instead",
        )
    return {"type": "image_url", "image_url": {"url": url}}


def _video_part(spec: ProviderSpec, part: VideoPart, where: str) -> dict[str, Any]:
    if not spec.capabilities.video or spec.quirks.string_content_only:
        raise _config_error(
            spec,
            f"{spec.name} does not take video, but {where} has a video link; "
            "remove it or choose a provider that takes video (EigenAI)",
        )
    return {"type": "video_url", "video_url": {"url": part.url}}


def _content(spec: ProviderSpec, msg: Message, where: str) -> str | list[dict[str, Any]]:
    if isinstance(msg.content, str):
        return msg.content
    if spec.quirks.string_content_only:
        for part in msg.content:
            if isinstance(part, ImagePart):
                _image_part(spec, part, where)  # raises the clear error
            elif isinstance(part, VideoPart):
                _video_part(spec, part, where)
        return "\n\n".join(p.text for p in msg.content if isinstance(p, TextPart))
    parts: list[dict[str, Any]] = []
    for part in msg.content:
        if isinstance(part, TextPart):
            parts.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            parts.append(_image_part(spec, part, where))
        else:
            parts.append(_video_part(spec, part, where))
    return parts


def _message(spec: ProviderSpec, msg: Message, index: int) -> dict[str, Any]:
    where = f"message {index + 1} ({msg.role})"
    out: dict[str, Any] = {"role": msg.role, "content": _content(spec, msg, where)}
    if msg.name is not None:
        out["name"] = msg.name
    if msg.tool_call_id is not None:
        out["tool_call_id"] = msg.tool_call_id
    if msg.tool_calls:
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in msg.tool_calls
        ]
        if out["content"] == "":
            out["content"] = None  # OpenAI: an assistant turn that only calls tools
    return out


def _set_path(body: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = body
    for key in parents:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[leaf] = value


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`base` with `extra` merged in: nested objects merge, anything else is replaced."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def build_wire_request(spec: ProviderSpec, req: ChatRequest) -> WireRequest:
    """Translate `req` into `spec`'s dialect; raises ParleyError(CONFIG) on anything invalid."""
    url = _url(spec, req)
    errors = validate_params(spec, {k: v for k, v in req.params.items() if v is not None})
    if errors:
        listed = "; ".join(errors.values())
        raise _config_error(spec, f"Fix these parameters for {spec.name}: {listed}")
    try:
        json.dumps(req.advanced, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise _config_error(spec, f"The Advanced JSON cannot be sent as JSON: {exc}") from None
    model = _model(spec, req)
    if not req.messages:
        raise _config_error(spec, "There is no message to send")
    messages = [_message(spec, m, i) for i, m in enumerate(req.messages)]

    body: dict[str, Any] = {}
    if model is not None:
        body["model"] = model
    body["messages"] = messages
    body["stream"] = req.stream
    for p in spec.params:  # the file's order, so the body reads the same every time
        value = req.params.get(p.name)
        if value is None:
            continue
        if not req.stream and p.wire_path.split(".", 1)[0] == "stream_options":
            continue  # stream options are refused on non-streamed requests
        _set_path(body, p.wire_path, normalize_value(p, value))
    if req.stream and spec.capabilities.stream_usage:
        options = body.get("stream_options")
        if options is None:
            body["stream_options"] = {"include_usage": True}
        elif isinstance(options, dict):
            options.setdefault("include_usage", True)
    if spec.quirks.session_id and req.session_id:
        body["session_id"] = req.session_id
    body = deep_merge(body, req.advanced)

    stream = body.get("stream") is True  # the Advanced JSON may have switched it
    headers = {
        "Content-Type": "application/json",
        "Accept": "text/event-stream" if stream else "application/json",
        "User-Agent": USER_AGENT,
    }
    return WireRequest(url=url, headers=headers, body=body, stream=stream)
