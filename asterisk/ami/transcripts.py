"""Loader for the AMI traffic recorded from a real Asterisk (shared/ami-transcripts/*.txt).

Used by tests and benchmarks to replay real traffic. A transcript is a list of blocks::

    <<<  0.001115 recv 71 bytes              one whole AMI message received
    >>>  0.001262 sent 32 bytes (a remark)   one action sent
    ###  1.002125 NOTE connection closed...  a note from the capture tool

Bodies are shown with LF; on the wire each line ends in CRLF. The banner is one CRLF line with
no empty line after it; every other message ends with an empty line. The byte count in each
block header is checked against the rebuilt wire bytes, so a misparse fails loudly.

A transcript can hold several TCP connections (a2: the server closes after a failed login and
the recorder connects again); each banner starts a new connection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from asterisk.ami.codec import AmiReader, Message, parse_frame

#: Where the recordings live in the shared tree.
# A copy of shared/ami-transcripts ships with the tests, so a fresh clone on a new machine has it.
TRANSCRIPT_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "ami-transcripts"

_BLOCK = re.compile(r"^(<<<|>>>)\s+(\d+(?:\.\d+)?) (recv|sent) (\d+) bytes(?: \((.*)\))?$")
_NOTE = re.compile(r"^###\s+(\d+(?:\.\d+)?) (.*)$")


class TranscriptError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Block:
    direction: str  # "recv" (from Asterisk) or "sent" (an action)
    at: float  # seconds since the first connect of the scenario
    wire: bytes  # the bytes as they were on the wire (CRLF line ends)
    remark: str = ""  # the recorder's remark after the byte count, e.g. "banner, ..."
    connection: int = 0  # 0-based index of the TCP connection the block belongs to

    @property
    def is_banner(self) -> bool:
        return self.remark.startswith("banner")

    def message(self) -> Message:
        """The block parsed as one AMI message (not for the banner)."""
        parsed = parse_frame(self.wire[:-4])
        if not isinstance(parsed, Message):
            raise TranscriptError(f"block at {self.at} is not a message: {parsed.reason}")
        return parsed


@dataclass(frozen=True, slots=True)
class Note:
    at: float
    text: str
    connection: int = 0


@dataclass(slots=True)
class Transcript:
    path: Path
    blocks: list[Block] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def received(self) -> list[Block]:
        return [b for b in self.blocks if b.direction == "recv"]

    @property
    def sent(self) -> list[Block]:
        return [b for b in self.blocks if b.direction == "sent"]

    @property
    def connections(self) -> int:
        return 1 + max((b.connection for b in self.blocks), default=0)


def load_transcript(path: str | Path) -> Transcript:
    path = Path(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    out = Transcript(path)
    conn = -1
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        note = _NOTE.match(line)
        if note:
            out.notes.append(Note(float(note[1]), note[2], max(conn, 0)))
            continue
        head = _BLOCK.match(line)
        if not head:
            if line.startswith(("<<<", ">>>")):
                raise TranscriptError(f"{path.name}:{i}: unreadable block header {line!r}")
            continue  # the '#' preamble and blank separators
        arrow, at, verb, size, remark = head.groups()
        if (arrow == "<<<") != (verb == "recv"):
            raise TranscriptError(f"{path.name}:{i}: arrow and verb disagree")
        remark = remark or ""
        body: list[str] = []
        if remark.startswith("banner"):
            conn += 1
            body.append(lines[i])
            i += 1
            wire = (body[0] + "\r\n").encode("utf-8")
        else:
            # A message runs to its empty line; AMI values never contain one.
            while i < len(lines) and lines[i] != "":
                body.append(lines[i])
                i += 1
            i += 1
            wire = ("\r\n".join(body) + "\r\n\r\n").encode("utf-8")
        if len(wire) != int(size):
            raise TranscriptError(f"{path.name}:{i}: block says {size} bytes, rebuilt {len(wire)}")
        out.blocks.append(Block(verb, float(at), wire, remark, max(conn, 0)))
    return out


def wire_bytes(transcript: Transcript, connection: int | None = None) -> bytes:
    """The received stream as Asterisk sent it (all connections joined, or one of them)."""
    return b"".join(
        b.wire for b in transcript.blocks if b.direction == "recv" and connection in (None, b.connection)
    )


def expected_messages(transcript: Transcript, connection: int | None = None) -> list[Message]:
    """The received messages (banners left out) that a reader must produce, in order."""
    return [
        b.message()
        for b in transcript.blocks
        if b.direction == "recv" and not b.is_banner and connection in (None, b.connection)
    ]


def banner(transcript: Transcript) -> str:
    for b in transcript.blocks:
        if b.is_banner:
            return b.wire.decode("utf-8").rstrip("\r\n")
    raise TranscriptError(f"{transcript.name} has no banner")


def transcript_paths(directory: str | Path = TRANSCRIPT_DIR) -> list[Path]:
    """Every AMI transcript (the FastAGI side files are left out)."""
    return sorted(p for p in Path(directory).glob("*.txt") if not p.name.endswith(".fastagi.txt"))


def read_stream(transcript: Transcript, connection: int = 0) -> list[Message]:
    """Helper for tests: what :class:`AmiReader` makes of one connection's stream."""
    return AmiReader().feed(wire_bytes(transcript, connection))
