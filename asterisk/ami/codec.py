"""Sans-IO AMI framing: bytes in, messages out; actions in, bytes out.

No sockets, no asyncio. The reader works on bytes and decodes a message only once it is
complete, so a UTF-8 character split across two TCP reads (a Chinese caller name) is never
lost -- the trap panoramisk 1.4 falls into by decoding each chunk on its own.

Wire format (Asterisk 22, as recorded in shared/ami-transcripts): a banner line
``Asterisk Call Manager/11.0.0\\r\\n`` with no empty line after it, then messages of
``Name: Value\\r\\n`` lines ended by an empty line. Header names may repeat and their
spelling varies (``Uniqueid`` / ``UniqueID``), so lookups are case-insensitive and the
first occurrence wins; every occurrence stays available in order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

CRLF = b"\r\n"
END = b"\r\n\r\n"
BANNER_PREFIX = "Asterisk Call Manager/"
#: A real message is a few KB at most (a Cdr or a UserEvent with a channel snapshot); ``ami.max_message``.
DEFAULT_MAX_MESSAGE = 64 * 1024


class AmiProtocolError(Exception):
    """Base of the AMI adapter's errors."""


class MissingHeader(AmiProtocolError, KeyError):
    def __init__(self, name: str, message: Message) -> None:
        super().__init__(name)
        self.name = name
        self.first = message.first

    def __str__(self) -> str:
        return f"AMI message {self.first!r} has no header {self.name!r}"


class FrameTooLarge(AmiProtocolError):
    """A banner line with no end within the limit: the peer is not Asterisk; the connection must go."""


class Message:
    """One AMI message: ordered headers with case-insensitive lookup.

    ``msg["Uniqueid"]`` raises :class:`MissingHeader` (unlike panoramisk, whose
    ``Message.__getattr__`` returns '' for any unknown name); ``msg.get()`` returns a default.

    A message read off the wire keeps its (already validated) text and splits it into headers on
    first use: most events (CEL, VarSet...) are only classified by their first line, never looked into.
    """

    __slots__ = ("_first", "_headers", "_index", "_text")

    def __init__(self, headers: list[tuple[str, str]]) -> None:
        self._headers: list[tuple[str, str]] | None = headers
        self._text = ""
        self._first = headers[0] if headers else ("", "")
        # Built on the first lookup: the index costs as much as parsing.
        self._index: dict[str, str] | None = None

    @classmethod
    def _from_valid_text(cls, text: str) -> Message:
        """A message from one frame's text that matched ``_VALID_FRAME`` (every line ends in CRLF)."""
        msg = cls.__new__(cls)
        msg._headers = None
        msg._text = text
        msg._index = None
        name, _, value = text[: text.find("\r\n")].partition(":")
        msg._first = (name, value[1:] if value[:1] == " " else value)
        return msg

    @property
    def headers(self) -> list[tuple[str, str]]:
        headers = self._headers
        if headers is None:
            headers = self._headers = _HEADER_LINE.findall(self._text)
        return headers

    @headers.setter
    def headers(self, headers: list[tuple[str, str]]) -> None:
        self._headers = headers
        self._first = headers[0] if headers else ("", "")
        self._index = None

    def _build_index(self) -> dict[str, str]:
        # Back to front so that the first occurrence of a repeated name wins.
        index = self._index = {k.lower(): v for k, v in reversed(self.headers)}
        return index

    @classmethod
    def build(
        cls, first: tuple[str, str], fields: Mapping[str, object] | Iterable[tuple[str, object]] = ()
    ) -> Message:
        items = fields.items() if isinstance(fields, Mapping) else fields
        return cls([first, *((k, str(v)) for k, v in items)])

    # -- classification (by the first line: OriginateResponse is an event with a Response header)
    @property
    def first(self) -> tuple[str, str]:
        return self._first

    @property
    def kind(self) -> str:
        """'event', 'response', 'action' or '' -- the lower-cased name of the first header."""
        return self._first[0].lower()

    @property
    def is_event(self) -> bool:
        return self.kind == "event"

    @property
    def is_response(self) -> bool:
        return self.kind == "response"

    @property
    def name(self) -> str:
        """The event name, the response status or the action name."""
        return self._first[1]

    # -- lookup
    def __getitem__(self, name: str) -> str:
        try:
            return (self._index or self._build_index())[name.lower()]
        except KeyError:
            raise MissingHeader(name, self) from None

    def get(self, name: str, default: str | None = None) -> str | None:
        return (self._index or self._build_index()).get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in (self._index or self._build_index())

    def getall(self, name: str) -> list[str]:
        lk = name.lower()
        return [v for k, v in self.headers if k.lower() == lk]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.headers)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and other.headers == self.headers

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        # Never print a Secret, whatever message this is.
        shown = ", ".join(f"{k}: {'***' if k.lower() == 'secret' else v}" for k, v in self.headers[:6])
        more = "" if len(self.headers) <= 6 else f", ... +{len(self.headers) - 6}"
        return f"<AMI {shown}{more}>"

    def encode(self) -> bytes:
        return encode(self.headers)


def encode(headers: Iterable[tuple[str, object]]) -> bytes:
    """Serialise headers as one AMI message (CRLF lines, empty line at the end)."""
    parts = []
    for k, v in headers:
        text = str(v)
        if "\r" in text or "\n" in text or "\r" in k or "\n" in k:
            # A newline inside a value would let a caller-supplied string inject headers.
            raise ValueError(f"AMI header {k!r} contains a line break")
        parts.append(f"{k}: {text}\r\n")
    parts.append("\r\n")
    return "".join(parts).encode("utf-8")


def encode_action(action: str, fields: Mapping[str, object] | Iterable[tuple[str, object]] = ()) -> bytes:
    items = list(fields.items()) if isinstance(fields, Mapping) else list(fields)
    return encode([("Action", action), *items])


@dataclass(frozen=True, slots=True)
class BadFrame:
    """A frame the reader could not parse; kept for the log and counted, never raised."""

    reason: str
    raw: bytes


#: One whole ``Name: value`` line: a name with no colon and no space at either end, an optional
#: single space, the value. Anchored at line starts so a bad line can never match half-way. Only
#: used on text that ``_VALID_FRAME`` accepted, where every line matches exactly once.
_HEADER_LINE = re.compile(r"^([^:\s][^:\r\n]*+)(?<!\s): ?(.*)\r\n", re.M)
#: A whole frame (with the CRLF of its last line) made only of such lines: one C-level scan that
#: decides whether the fast path is exact. ``.`` stops at LF, so a lone LF sends the frame to the
#: slow path, which reads it the same way as before.
_VALID_FRAME = re.compile(r"(?:[^:\s][^:\r\n]*+(?<!\s):.*\r\n)*+")


def _parse_slow(text: str) -> list[tuple[str, str]] | str:
    """The reference line rule, line by line: the headers, or the reason the frame is bad."""
    headers = []
    for line in text.split("\r\n"):
        key, sep, value = line.partition(":")
        if not sep or not key or key != key.strip():
            return f"line without 'Name: value': {line[:80]!r}"
        headers.append((key, value[1:] if value.startswith(" ") else value))
    return headers


def parse_text(text: str) -> Message | BadFrame:
    """One frame's text (without the empty line that ends it) as a Message, or a BadFrame."""
    framed = text + "\r\n"
    if _VALID_FRAME.fullmatch(framed):
        return Message._from_valid_text(framed)
    parsed = _parse_slow(text)
    if isinstance(parsed, str):
        return BadFrame(parsed, text.encode("utf-8", errors="replace")[:512])
    return Message(parsed)


def parse_frame(raw: bytes) -> Message | BadFrame:
    parsed = parse_text(raw.decode("utf-8", errors="replace"))
    if isinstance(parsed, BadFrame):
        return BadFrame(parsed.reason, raw[:512])
    return parsed


class AmiReader:
    """Incremental AMI reader. ``feed(bytes)`` returns the complete messages.

    Malformed frames are skipped and kept in ``bad_frames``/``bad_count`` for the caller to
    log and count. A frame over ``max_message`` bytes (complete, or still without its empty line)
    is dropped and counted in ``oversized``: the reader discards bytes up to the next empty line
    and goes on from there, keeping at most ``max_message`` bytes. That resync is exact, because
    an AMI value can never hold a line break (Asterisk ends every message with CRLF CRLF), and it
    keeps the connection -- one runaway UserEvent must not cost a reconnect and a resync. Only a
    banner line longer than the limit raises :class:`FrameTooLarge` (the peer is not Asterisk).
    """

    def __init__(self, *, expect_banner: bool = True, max_message: int = DEFAULT_MAX_MESSAGE) -> None:
        self._buf = b""
        self._expect_banner = expect_banner
        self.max_message = max_message
        self.banner: str | None = None
        self.bad_count = 0
        self.bad_frames: list[BadFrame] = []
        #: frames dropped for their size (also counted in bad_count, kept in bad_frames)
        self.oversized = 0
        #: inside an oversized frame: bytes are discarded until the next empty line
        self._skipping = False

    def feed(self, data: bytes) -> list[Message]:
        buf = self._buf + data if self._buf else data
        out: list[Message] = []
        if self._expect_banner:
            nl = buf.find(CRLF)
            if nl < 0:
                self._buf = buf
                if len(buf) > self.max_message:
                    self._buf = b""
                    raise FrameTooLarge(f"AMI banner longer than {self.max_message} bytes: not an AMI server")
                return out
            self.banner = buf[:nl].decode("utf-8", errors="replace")
            buf = buf[nl + 2 :]
            self._expect_banner = False
        if self._skipping:
            end = buf.find(END)
            if end < 0:
                self._buf = buf[-3:]  # a terminator may straddle two reads
                return out
            self._skipping = False
            buf = buf[end + 4 :]
        last = buf.rfind(END)
        if last < 0:
            self._buf = buf
            self._check_size(buf)
            return out
        # Every complete frame is decoded at once: frames end on ASCII bytes, so no UTF-8 character
        # is ever cut, and the rest (an incomplete frame) waits as bytes for the next read.
        self._buf = buf[last + 4 :]
        text = buf[: last + 4].decode("utf-8", errors="replace")
        find = text.find
        startswith = text.startswith
        valid = _VALID_FRAME.fullmatch
        from_valid = Message._from_valid_text
        limit = self.max_message
        pos = 0
        while True:
            # A stray empty line between messages is not a frame; skipping it keeps the
            # next message from being parsed (and dropped) as a frame starting with "".
            while startswith("\r\n", pos):
                pos += 2
            end = find("\r\n\r\n", pos)
            if end < 0:
                break
            if end - pos > limit:
                # Characters, not bytes: never more than the bytes, so a frame this long is too big.
                self._oversize(text[pos : pos + 512].encode("utf-8", errors="replace"))
            elif valid(text, pos, end + 2):
                out.append(from_valid(text[pos : end + 2]))
            else:
                parsed = parse_text(text[pos:end])
                if isinstance(parsed, Message):
                    out.append(parsed)
                else:
                    self._bad(parsed)
            pos = end + 4
        self._check_size(self._buf)
        return out

    def _bad(self, frame: BadFrame) -> None:
        self.bad_count += 1
        if len(self.bad_frames) >= 100:
            del self.bad_frames[0]
        self.bad_frames.append(frame)

    def _check_size(self, pending: bytes) -> None:
        if len(pending) > self.max_message:
            # No end within the limit: drop what we have and skip to the next empty line.
            self._oversize(pending[:512])
            self._skipping = True
            self._buf = pending[-3:]

    def _oversize(self, head: bytes) -> None:
        self.oversized += 1
        self._bad(BadFrame(f"frame over {self.max_message} bytes dropped", head))

    @property
    def pending(self) -> int:
        return len(self._buf)


class NameCounts:
    """Counts by name with a bounded set of names: a Prometheus label set that a peer cannot blow up.

    The first ``limit`` distinct names (cut to 64 characters) get their own count; every later one
    is counted under ``OTHER``. Memory stays at ``limit`` entries whatever the peer sends.
    """

    OTHER = "_other"

    def __init__(self, limit: int = 50) -> None:
        self.limit = limit
        self.counts: dict[str, int] = {}

    def add(self, name: str) -> None:
        name = name[:64]
        counts = self.counts
        if name in counts:
            counts[name] += 1
        elif len(counts) < self.limit:
            counts[name] = 1
        else:
            counts[self.OTHER] = counts.get(self.OTHER, 0) + 1
