"""Hypothesis fuzzing of the FastAGI request (environment) and reply parsers.

Anything Asterisk -- or anything pretending to be it -- sends either parses or raises AgiProtocolError
(the server then drops the connection and the dialplan falls back); no other exception, no unbounded buffer.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asterisk.agi.protocol import (
    AgiEnvironment,
    AgiParser,
    AgiProtocolError,
    AgiReply,
    HangupNotice,
    parse_reply,
)

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])

env_key = st.from_regex(r"agi_[A-Za-z0-9_]{1,20}", fullmatch=True)
env_value = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=60)
environment = st.dictionaries(env_key, env_value, min_size=1, max_size=30)
reply_line = st.one_of(
    st.builds(lambda r, d, a: f"200 result={r}{d}{a}", st.from_regex(r"-?[0-9]{0,4}", fullmatch=True),
              st.sampled_from(["", " (timeout)", " (some (nested) value)"]),
              st.sampled_from(["", " endpos=8000", " results=foo bar"])),
    st.sampled_from(["510 Invalid or unknown command", "511 Command Not Permitted on a dead channel",
                     "520 Invalid command syntax.  Proper usage not available.", "HANGUP"]),
)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True) if b > a]


def feed_all(parser: AgiParser, pieces: list[bytes]) -> list[object]:
    out: list[object] = []
    for piece in pieces:
        out += parser.feed(piece)
        assert len(parser._buffer) <= parser.max_line + len(piece)  # never more than one line and one read
    return out


@FUZZ
@given(data=st.binary(max_size=2000), cuts=st.lists(st.integers(0, 2000), max_size=20),
       env_first=st.booleans())
def test_any_bytes_parse_or_raise_a_protocol_error(data: bytes, cuts: list[int], env_first: bool) -> None:
    parser = AgiParser(max_line=512, max_env_lines=20)
    prefix = [b"agi_channel: PJSIP/x\n\n"] if env_first else []
    try:
        items = feed_all(parser, prefix + split(data, cuts))
    except AgiProtocolError:
        return
    assert all(isinstance(i, AgiEnvironment | AgiReply | HangupNotice) for i in items)
    envs = [i for i in items if isinstance(i, AgiEnvironment)]
    assert len(envs) <= 1 and (not envs or items[0] is envs[0])


@FUZZ
@given(env=environment, replies=st.lists(reply_line, max_size=10), cuts=st.lists(st.integers(0, 4000), max_size=30),
       crlf=st.booleans())
def test_well_formed_traffic_parses_in_any_pieces(
    env: dict[str, str], replies: list[str], cuts: list[int], crlf: bool
) -> None:
    nl = "\r\n" if crlf else "\n"
    text = "".join(f"{k}: {v}{nl}" for k, v in env.items()) + nl + "".join(r + nl for r in replies)
    items = feed_all(AgiParser(), split(text.encode(), cuts))
    assert isinstance(items[0], AgiEnvironment)
    # res_agi writes "agi_x: " for an empty value; the parser keeps the value as sent, spaces and all
    assert dict(items[0].values) == {k: v for k, v in env.items()}
    assert len(items) == 1 + len(replies)
    for item, line in zip(items[1:], replies, strict=True):
        if line == "HANGUP":
            assert isinstance(item, HangupNotice)
        else:
            assert isinstance(item, AgiReply) and item.text == line and item.code == int(line[:3])


@FUZZ
@given(line=st.text(max_size=200).filter(lambda s: "\n" not in s))
def test_parse_reply_of_any_line(line: str) -> None:
    try:
        reply = parse_reply([line])
    except AgiProtocolError:
        return
    assert reply.text == line
    if reply.code == 200:
        assert reply.result is not None
        try:
            reply.result_int  # noqa: B018  (a number or a typed error, never a ValueError)
        except AgiProtocolError:
            pass


@FUZZ
@given(size=st.integers(513, 5000), cuts=st.lists(st.integers(0, 6000), max_size=10), after_env=st.booleans())
def test_overlong_line_is_refused(size: int, cuts: list[int], after_env: bool) -> None:
    parser = AgiParser(max_line=512)
    head = b"agi_channel: x\n\n" if after_env else b""
    with pytest.raises(AgiProtocolError, match="longer than 512"):
        feed_all(parser, split(head + b"agi_x: " + b"a" * size, cuts))


@FUZZ
@given(count=st.integers(21, 400))
def test_too_many_variables_are_refused(count: int) -> None:
    data = b"".join(b"agi_var_%d: v\n" % i for i in range(count)) + b"\n"
    with pytest.raises(AgiProtocolError, match="longer than 20 lines"):
        AgiParser(max_env_lines=20).feed(data)
