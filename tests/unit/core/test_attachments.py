"""Text files as attachments: read as UTF-8 text, refused in words otherwise, inlined by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley.core.chat.attachments import (
    AttachmentError,
    TextFile,
    inline_text_files,
    read_text_file,
)


def test_a_text_file_is_read_with_its_name(tmp_path: Path) -> None:
    p = tmp_path / "notes.py"
    p.write_bytes("\ufeffprint('hi')\r\n".encode())
    f = read_text_file(p)
    assert f == TextFile("notes.py", "print('hi')\n") and f.language == "python"


@pytest.mark.parametrize(
    ("name", "data", "why"),
    [
        ("pic.bin", b"\x89PNG\x00\x00", "not a text file"),
        ("latin1.txt", "café".encode("latin-1"), "not UTF-8"),
        ("paper.pdf", b"%PDF-1.7 text", "is a PDF"),
        ("big.txt", b"a" * 2000, "larger than 1 KB"),
    ],
)
def test_what_cannot_be_attached_says_why(tmp_path: Path, name: str, data: bytes, why: str) -> None:
    p = tmp_path / name
    p.write_bytes(data)
    with pytest.raises(AttachmentError) as err:
        read_text_file(p, max_bytes=1024)
    assert why in str(err.value) and name in str(err.value)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(AttachmentError, match=r"Could not read gone\.txt"):
        read_text_file(tmp_path / "gone.txt")
    with pytest.raises(AttachmentError, match="is a folder"):
        read_text_file(tmp_path)


def test_files_are_inlined_after_the_message_in_fences_longer_than_their_backticks() -> None:
    files = [TextFile("a.md", "Use ```code``` here"), TextFile("b.txt", "plain\n")]
    text = inline_text_files("Summarise these.  ", files)
    assert text == (
        "Summarise these.\n\n"
        "a.md:\n````markdown\nUse ```code``` here\n````\n\n"
        "b.txt:\n```\nplain\n```"
    )
    assert inline_text_files("", files[1:]) == "b.txt:\n```\nplain\n```"
    assert inline_text_files("just text", []) == "just text"
