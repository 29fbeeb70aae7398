"""Text files attached to a message: read (UTF-8 text only, up to a size) and inlined into the
message as fenced blocks headed by the file's name, which is how every chat API takes them.

PDF is not read: the light libraries that extract its text would be a new dependency for a
partial answer (scanned pages have no text); export the text first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from parley.core.protocol.limits import LimitError, read_capped

MAX_TEXT_BYTES = 512 * 1024

_LANGUAGES = {
    ".py": "python", ".js": "javascript", ".ts": "typescript", ".json": "json", ".md": "markdown",
    ".html": "html", ".css": "css", ".sh": "bash", ".toml": "toml", ".yaml": "yaml",
    ".yml": "yaml", ".rs": "rust", ".go": "go", ".c": "c", ".h": "c", ".cpp": "cpp",
    ".java": "java", ".sql": "sql", ".xml": "xml", ".csv": "csv",
}  # fmt: skip


class AttachmentError(ValueError):
    """A file that cannot be attached as text; the message says why, in words."""


@dataclass(frozen=True)
class TextFile:
    name: str
    text: str

    @property
    def language(self) -> str:
        return _LANGUAGES.get(Path(self.name).suffix.lower(), "")


def read_text_file(path: Path | str, max_bytes: int = MAX_TEXT_BYTES) -> TextFile:
    path = Path(path)
    try:
        data = read_capped(path, max_bytes)
    except LimitError:
        raise AttachmentError(
            f"{path.name} is larger than {max_bytes // 1024} KB: too long to attach as text."
        ) from None
    except IsADirectoryError:
        raise AttachmentError(f"{path.name} is a folder, not a file.") from None
    except OSError as exc:
        raise AttachmentError(f"Could not read {path.name}: {exc.strerror or exc}.") from None
    if path.suffix.lower() == ".pdf":
        raise AttachmentError(f"{path.name} is a PDF: Parley attaches text files and images only.")
    if b"\x00" in data[:8192]:
        raise AttachmentError(f"{path.name} is not a text file (nor an image Parley can read).")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AttachmentError(f"{path.name} is not UTF-8 text, so it cannot be attached.") from None
    return TextFile(path.name, text.replace("\r\n", "\n"))


def _fence(text: str) -> str:
    """A backtick fence longer than any run of backticks inside `text`."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def inline_text_files(message: str, files: Sequence[TextFile]) -> str:
    """`message` followed by each file as a fenced block under its name."""
    blocks = []
    for f in files:
        fence = _fence(f.text)
        body = f.text if f.text.endswith("\n") else f.text + "\n"
        blocks.append(f"{f.name}:\n{fence}{f.language}\n{body}{fence}")
    if not blocks:
        return message
    head = message.rstrip()
    return "\n\n".join([head, *blocks] if head else blocks)
