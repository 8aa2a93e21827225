"""Hypothesis fuzzing of the AMI reader (codec.py) and the client's protocol (client.py).

Whatever bytes arrive, in whatever pieces: no exception escapes, the reader never holds more than its
limit, and a valid frame that follows garbage is still read.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asterisk.ami.client import AmiClient, _AmiProtocol
from asterisk.ami.codec import END, AmiReader, Message
from asterisk.ami.transcripts import expected_messages, load_transcript, transcript_paths, wire_bytes

#: reproducible in CI: the same examples every run, no example database
FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
LIMIT = 4096

CALL = next(p for p in transcript_paths() if p.name.startswith("b1"))
CALL_WIRE = wire_bytes(load_transcript(CALL))
CALL_MESSAGES = expected_messages(load_transcript(CALL))

header_name = st.text(st.characters(codec="utf-8", exclude_characters=":\r\n", exclude_categories=["Zs", "Cc"]),
                      min_size=1, max_size=12)
header_value = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=40)
valid_message = st.builds(
    lambda name, pairs: Message([("Event", name), *pairs]),
    header_name,
    st.lists(st.tuples(header_name, header_value), max_size=5),
)
#: anything that does not itself end a frame; the test adds the empty line after it
garbage = st.binary(max_size=300).filter(lambda b: END not in b)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True) if b > a]


def feed_all(reader: AmiReader, pieces: list[bytes]) -> list[Message]:
    out: list[Message] = []
    for piece in pieces:
        out += reader.feed(piece)
        assert reader.pending <= reader.max_message  # bounded memory, after every read
    return out


def is_subsequence(want: list[Message], got: list[Message]) -> bool:
    it = iter(got)
    return all(any(m == g for g in it) for m in want)


@FUZZ
@given(data=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 3000), max_size=20), banner=st.booleans())
def test_arbitrary_bytes_never_raise_and_stay_bounded(data: bytes, cuts: list[int], banner: bool) -> None:
    reader = AmiReader(expect_banner=banner, max_message=LIMIT)
    feed_all(reader, split(data, cuts))  # banner lines here are < LIMIT: FrameTooLarge cannot arise
    assert reader.bad_count >= reader.oversized
    assert len(reader.bad_frames) <= 100


@FUZZ
@given(
    items=st.lists(st.one_of(valid_message, garbage), min_size=1, max_size=12),
    cuts=st.lists(st.integers(0, 5000), max_size=30),
)
def test_valid_frames_after_garbage_are_read(items: list[Message | bytes], cuts: list[int]) -> None:
    wire = b"".join(i.encode() if isinstance(i, Message) else i + END for i in items)
    reader = AmiReader(expect_banner=False, max_message=LIMIT)
    got = feed_all(reader, split(wire, cuts))
    valid = [i for i in items if isinstance(i, Message)]
    assert is_subsequence(valid, got), (valid, got)
    assert len(got) + reader.bad_count <= len(items)
    assert reader.pending <= 2  # at most a stray CRLF after the last frame


@FUZZ
@given(
    before=st.lists(garbage, max_size=3),
    size=st.integers(LIMIT + 1, 6 * LIMIT),
    terminated=st.booleans(),
    cuts=st.lists(st.integers(0, 30000), max_size=40),
)
def test_oversized_frame_is_dropped_and_reading_goes_on(
    before: list[bytes], size: int, terminated: bool, cuts: list[int]
) -> None:
    huge = b"Event: Huge\r\nX: " + b"y" * size + (b"\r\n" if terminated else b"")
    wire = b"".join(g + END for g in before) + huge + END + CALL_WIRE.split(b"\r\n", 1)[1]
    reader = AmiReader(expect_banner=False, max_message=LIMIT)
    got = feed_all(reader, split(wire, cuts))
    assert reader.oversized == 1
    assert got[-len(CALL_MESSAGES):] == CALL_MESSAGES  # the whole call after it, unharmed


@FUZZ
@given(names=st.lists(st.text(min_size=1, max_size=80).filter(lambda s: "\r" not in s and "\n" not in s),
                      min_size=1, max_size=300))
def test_unknown_event_names_counted_in_a_bounded_set(names: list[str]) -> None:
    from datetime import UTC, datetime

    from asterisk.ami.tracker import CallTracker

    tracker = CallTracker()
    at = datetime(2026, 3, 2, tzinfo=UTC)
    for name in names:
        assert tracker.feed(Message([("Event", f"Zz{name}")]), at) == []
    counts = tracker.ignored_names.counts
    assert len(counts) <= tracker.ignored_names.limit + 1
    assert sum(counts.values()) == tracker.ignored == len(names)
    assert all(len(name) <= 64 for name in counts)


class _Transport(asyncio.Transport):
    """In-memory transport: the protocol under test writes nowhere and may be aborted."""

    def __init__(self) -> None:
        super().__init__()
        self.aborted = False
        self.reading = True

    def write(self, data: Any) -> None:
        pass

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


async def _through_protocol(pieces: list[bytes]) -> tuple[AmiClient, list[Message], _Transport]:
    client = AmiClient("127.0.0.1", 1, "u", "s", on_event=lambda m, at: None, max_message=LIMIT)
    queue: asyncio.Queue[Any] = asyncio.Queue()
    client._queue = queue
    proto = _AmiProtocol(client, LIMIT)
    transport = _Transport()
    proto.connection_made(transport)
    for piece in pieces:
        proto.data_received(piece)
        assert proto.reader.pending <= LIMIT
    proto.connection_lost(None)
    events: list[Message] = []
    while not queue.empty():
        batch, _ = queue.get_nowait()
        events += batch
    return client, events, transport


@settings(FUZZ, max_examples=100)
@given(
    noise=st.lists(st.one_of(garbage, st.just(b"Event: Big\r\nX: " + b"y" * (2 * LIMIT))), max_size=4),
    cuts=st.lists(st.integers(0, 20000), max_size=30),
)
def test_protocol_survives_garbage_and_delivers_the_events_after_it(noise: list[bytes], cuts: list[int]) -> None:
    wire = b"Asterisk Call Manager/11.0.0\r\n" + b"".join(n + END for n in noise) + CALL_WIRE.split(b"\r\n", 1)[1]
    # A private loop, not asyncio.run(): that would replace (and leak, unclosed) the loop pytest-asyncio left set.
    loop = asyncio.new_event_loop()
    try:
        client, events, transport = loop.run_until_complete(_through_protocol(split(wire, cuts)))
    finally:
        loop.close()
    assert not transport.aborted  # garbage and oversized frames cost no connection
    want = [m for m in CALL_MESSAGES if m.is_event]
    assert events[-len(want):] == want
    assert client.stats.bad_frames >= client.stats.oversized_frames == sum(len(n) > LIMIT for n in noise)
