"""What the user asks for, before any provider's wire format: a ChatRequest.

`parley.core.providers.wire.build_wire_request(spec, request)` turns it into URL, headers and body.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "developer", "user", "assistant", "tool"]


class TextPart(BaseModel):
    model_config = ConfigDict(frozen=True)
    type: Literal["text"] = "text"
    text: str


class ImagePart(BaseModel):
    """An image: `data` is base64 (sent as a data URI) or `url` is an http(s) URL."""

    model_config = ConfigDict(frozen=True)
    type: Literal["image"] = "image"
    mime: str = "image/png"
    data: str | None = None  # base64, no "data:" prefix
    url: str | None = None
    name: str | None = None  # file name, for display

    def data_uri(self) -> str | None:
        return f"data:{self.mime};base64,{self.data}" if self.data is not None else None


class VideoPart(BaseModel):
    model_config = ConfigDict(frozen=True)
    type: Literal["video"] = "video"
    url: str


ContentPart = Annotated[TextPart | ImagePart | VideoPart, Field(discriminator="type")]


class ToolCall(BaseModel):
    """A complete tool call, as sent back in an assistant message's history."""

    id: str
    name: str
    arguments: str = ""


class Message(BaseModel):
    role: Role
    content: str | list[ContentPart] = ""
    name: str | None = None
    tool_call_id: str | None = None
    tool_calls: list[ToolCall] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


class ChatRequest(BaseModel):
    """One request, independent of any provider's wire format.

    `params` holds only the parameters the user set (tri-state: absent = not sent), keyed by the
    provider file's parameter name. `advanced` is free JSON merged into the body last.
    """

    provider: str
    model: str
    messages: list[Message]
    params: dict[str, Any] = Field(default_factory=dict)
    advanced: dict[str, Any] = Field(default_factory=dict)
    stream: bool = True
    base_url: str | None = None  # overrides the provider file's base URL
    session_id: str | None = None  # Adaptive Engine: sent back to reuse the KV cache
