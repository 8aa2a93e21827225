"""The transcript loader itself: block parsing, byte counts, notes, connections."""

from __future__ import annotations

from pathlib import Path

import pytest

from asterisk.ami.transcripts import (
    TRANSCRIPT_DIR,
    TranscriptError,
    expected_messages,
    load_transcript,
    wire_bytes,
)


def test_a1_blocks() -> None:
    t = load_transcript(TRANSCRIPT_DIR / "a1-login-ping-unknown-action.txt")
    first = t.blocks[0]
    assert first.direction == "recv" and first.is_banner
    assert first.wire == b"Asterisk Call Manager/11.0.0\r\n"
    assert first.at == pytest.approx(0.000725)
    login = t.blocks[1]
    assert login.direction == "sent"
    assert login.message()["Username"] == "cc"
    assert login.wire.endswith(b"ActionID: cc-1\r\n\r\n")
    assert len(wire_bytes(t)) == 1733  # the recorder's own "bytes received" figure
    assert sum(len(b.wire) for b in t.sent) == 341
    assert [n.text for n in t.notes] == ["NOTE connection closed by peer (EOF)"]
    unknown = next(b for b in t.sent if b.remark == "unknown action")
    assert unknown.message()["Action"] == "FooBarBaz"


def test_a2_two_connections() -> None:
    t = load_transcript(TRANSCRIPT_DIR / "a2-login-failure.txt")
    assert t.connections == 2
    assert [m["Message"] for m in expected_messages(t, 0)] == ["Permission denied", "Authentication failed"]
    assert [m["Message"] for m in expected_messages(t, 1)] == ["Authentication failed"]
    assert wire_bytes(t, 1).startswith(b"Asterisk Call Manager/11.0.0\r\nResponse: Error\r\n")
    assert len(wire_bytes(t)) == 263


def test_byte_count_mismatch_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.txt"
    bad.write_text("# header\n\n<<<  0.1 recv 99 bytes\nEvent: X\n\n", encoding="utf-8")
    with pytest.raises(TranscriptError):
        load_transcript(bad)


def test_unreadable_block_header_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.txt"
    bad.write_text("<<< soon recv some bytes\nEvent: X\n\n", encoding="utf-8")
    with pytest.raises(TranscriptError):
        load_transcript(bad)
