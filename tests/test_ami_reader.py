"""The shared AmiReader fed the real recorded AMI traffic, whole and in random pieces."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asterisk.ami.codec import AmiReader, FrameTooLarge, Message, MissingHeader
from asterisk.ami.transcripts import (
    TRANSCRIPT_DIR,
    banner,
    expected_messages,
    load_transcript,
    transcript_paths,
    wire_bytes,
)

PATHS = transcript_paths()
TRANSCRIPTS = {p.name: load_transcript(p) for p in PATHS}
#: (transcript name, connection) for every recorded TCP connection
STREAMS = [(name, c) for name, t in TRANSCRIPTS.items() for c in range(t.connections)]

CHINESE_USEREVENT = (
    "Event: UserEvent\r\n"
    "Privilege: user,all\r\n"
    "Channel: PJSIP/trunk-0000002a\r\n"
    "CallerIDNum: 13800138000\r\n"
    "CallerIDName: 张三 市民\r\n"
    "Uniqueid: 1795824801.2\r\n"
    "Linkedid: 1795824801.2\r\n"
    "Context: cc-hold\r\n"
    "UserEvent: CcHold\r\n"
    "Uniqueid: 1795824801.2\r\n"
    "\r\n"
).encode()


def test_all_transcripts_found() -> None:
    # The recordings are the ground truth; if they moved, every test here would pass vacuously.
    assert len(PATHS) == 12
    assert not any(p.name.endswith(".fastagi.txt") for p in PATHS)
    assert TRANSCRIPTS["a2-login-failure.txt"].connections == 2


def chunks(data: bytes, sizes: list[int]) -> list[bytes]:
    out, i, k = [], 0, 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        out.append(data[i : i + n])
        i += n
        k += 1
    return out


def read_all(pieces: list[bytes]) -> tuple[AmiReader, list[Message]]:
    reader = AmiReader()
    got: list[Message] = []
    for piece in pieces:
        got.extend(reader.feed(piece))
    return reader, got


@pytest.mark.parametrize(("name", "conn"), STREAMS)
def test_whole_stream(name: str, conn: int) -> None:
    t = TRANSCRIPTS[name]
    reader, got = read_all([wire_bytes(t, conn)])
    want = expected_messages(t, conn)
    assert got == want
    assert [m.headers for m in got] == [m.headers for m in want]  # names, order and repeats kept
    assert reader.banner == banner(t)
    assert reader.bad_count == 0
    assert reader.pending == 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    stream=st.sampled_from(STREAMS),
    sizes=st.lists(st.integers(min_value=1, max_value=3000), min_size=1, max_size=30),
)
def test_random_chunks(stream: tuple[str, int], sizes: list[int]) -> None:
    name, conn = stream
    t = TRANSCRIPTS[name]
    reader, got = read_all(chunks(wire_bytes(t, conn), sizes))
    assert got == expected_messages(t, conn)
    assert reader.bad_count == 0


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=20))
def test_small_chunks_of_a_call(sizes: list[int]) -> None:
    t = TRANSCRIPTS["c1-caller-abandons-on-hold.txt"]
    _, got = read_all(chunks(wire_bytes(t), sizes))
    assert got == expected_messages(t)


@pytest.mark.parametrize("with_banner", [False, True])
def test_chinese_name_split_at_every_byte(with_banner: bool) -> None:
    data = (b"Asterisk Call Manager/11.0.0\r\n" if with_banner else b"") + CHINESE_USEREVENT
    for cut in range(len(data) + 1):
        reader = AmiReader(expect_banner=with_banner)
        got = reader.feed(data[:cut]) + reader.feed(data[cut:])
        assert len(got) == 1, cut
        msg = got[0]
        assert msg["CallerIDName"] == "张三 市民", cut
        assert msg.getall("Uniqueid") == ["1795824801.2", "1795824801.2"]
        assert [k for k, _ in msg.headers][-2:] == ["UserEvent", "Uniqueid"]


def test_chinese_name_byte_by_byte() -> None:
    reader = AmiReader(expect_banner=False)
    got = [m for i in range(len(CHINESE_USEREVENT)) for m in reader.feed(CHINESE_USEREVENT[i : i + 1])]
    assert len(got) == 1
    assert got[0]["calleridname"] == "张三 市民"


def test_repeated_headers_and_spellings_from_recordings() -> None:
    msgs = expected_messages(TRANSCRIPTS["b1-incoming-fastagi-hold-agent1001.txt"])
    hold = next(m for m in msgs if m.name == "UserEvent" and m["UserEvent"] == "CcHold")
    assert hold.getall("Uniqueid") == ["1795824801.2", "1795824801.2"]
    cdr = next(m for m in msgs if m.name == "Cdr")
    # Cdr spells it UniqueID; lookups ignore case, the original spelling is kept.
    assert "UniqueID" in [k for k, _ in cdr.headers]
    assert cdr["Uniqueid"] == cdr["UNIQUEID"]
    with pytest.raises(MissingHeader):
        cdr["NoSuchHeader"]


def test_originate_response_is_an_event() -> None:
    msgs = expected_messages(TRANSCRIPTS["b1-incoming-fastagi-hold-agent1001.txt"])
    orig = next(m for m in msgs if m.name == "OriginateResponse")
    assert orig.is_event and not orig.is_response
    assert orig["Response"] == "Success"


def test_malformed_frame_counted_and_skipped() -> None:
    t = TRANSCRIPTS["a1-login-ping-unknown-action.txt"]
    data = wire_bytes(t)
    first_end = data.index(b"\r\n\r\n") + 4  # after the login response
    bad = b"this line has no colon\r\nEvent: X\r\n\r\n"
    reader = AmiReader()
    got = reader.feed(data[:first_end] + bad + data[first_end:])
    assert got == expected_messages(t)
    assert reader.bad_count == 1
    assert b"no colon" in reader.bad_frames[0].raw


def test_stray_empty_line_between_messages_loses_nothing() -> None:
    reader = AmiReader(expect_banner=False)
    got = reader.feed(b"Event: A\r\n\r\n\r\n") + reader.feed(b"\r\nEvent: B\r\nX: 1\r\n\r\n")
    assert [m.name for m in got] == ["A", "B"]
    assert reader.bad_count == 0


def test_oversized_frame_is_dropped_and_the_reader_resyncs() -> None:
    reader = AmiReader(expect_banner=False, max_message=1024)
    reader.feed(b"Event: Big\r\n")
    assert reader.feed(b"X: " + b"y" * 2000 + b"\r\n") == []
    assert (reader.oversized, reader.pending) == (1, 3)
    got = reader.feed(b"Z: " + b"y" * 2000 + b"\r\n\r\nEvent: Next\r\n\r\n")
    assert [m.name for m in got] == ["Next"]
    assert reader.oversized == reader.bad_count == 1


def test_oversized_banner_raises() -> None:
    reader = AmiReader(max_message=64)
    with pytest.raises(FrameTooLarge):
        reader.feed(b"not a banner" * 10)


def test_large_but_complete_feed_is_fine() -> None:
    # The limit is per message, not per read: a whole recording in one feed is allowed.
    t = TRANSCRIPTS["f2-burst-50-callers-incoming-fastagi.txt"]
    reader = AmiReader(max_message=8 * 1024)
    assert len(reader.feed(wire_bytes(t))) == len(expected_messages(t))


def test_transcript_dir_exists() -> None:
    assert TRANSCRIPT_DIR.is_dir()


@pytest.mark.parametrize(
    ("frame", "headers"),
    [
        (b"Event: A\r\nKey:v\r\nEmpty:\r\nSp: \r\nC: a: b", [("Event", "A"), ("Key", "v"), ("Empty", ""),
                                                             ("Sp", ""), ("C", "a: b")]),
        (b"Event: A\r\nX:  two spaces", [("Event", "A"), ("X", " two spaces")]),
        (b"Event: A\r\nLone\nLF: v", [("Event", "A"), ("Lone\nLF", "v")]),
        (b" Event: A", None),
        (b"Event : A", None),
        (b"Event: A\r\n: no name", None),
        (b"Event: A\r\nno colon", None),
    ],
)
def test_frame_line_rules(frame: bytes, headers: list[tuple[str, str]] | None) -> None:
    reader = AmiReader(expect_banner=False)
    got = reader.feed(frame + b"\r\n\r\n")
    if headers is None:
        assert got == [] and reader.bad_count == 1
    else:
        assert [m.headers for m in got] == [headers] and reader.bad_count == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=8), st.text(max_size=12)), min_size=1, max_size=6))
def test_parse_matches_the_line_rule(pairs: list[tuple[str, str]]) -> None:
    # Reference rule: split at the first ':', the name non-empty with no space at its ends,
    # one optional space dropped from the value.
    lines = [f"{k}: {v}" for k, v in pairs]
    text = "\r\n".join(lines)
    if "\r\n\r\n" in text or text.startswith("\r\n") or text.endswith("\r\n"):
        return  # an empty line ends a frame: not a single-frame case
    if "\r" in text.replace("\r\n", ""):
        return
    want: list[tuple[str, str]] | None = []
    for line in text.split("\r\n"):
        key, sep, value = line.partition(":")
        if not sep or not key or key != key.strip():
            want = None
            break
        assert want is not None
        want.append((key, value[1:] if value.startswith(" ") else value))
    reader = AmiReader(expect_banner=False)
    got = reader.feed(text.encode() + b"\r\n\r\n")
    if want is None:
        assert reader.bad_count == 1
    else:
        assert [m.headers for m in got] == [want]
