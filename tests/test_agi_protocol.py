"""Sans-IO FastAGI protocol: environment, replies, HANGUP, limits, quoting as res_agi reads it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asterisk.agi.protocol import (
    AgiEnvironment,
    AgiParser,
    AgiProtocolError,
    AgiReply,
    HangupNotice,
    encode_command,
    parse_reply,
    quote,
    quote_always,
    split_command,
)
from asterisk.agi.testing import load_fastagi_transcript, transcript_dir

ENV = b"agi_network: yes\nagi_channel: Local/s@cc-caller-00000001;1\nagi_accountcode: \nagi_arg_1: x y\n\n"


def test_environment_block_then_replies_in_one_feed():
    parser = AgiParser()
    items = parser.feed(ENV + b"200 result=0\n")
    assert isinstance(items[0], AgiEnvironment)
    assert items[0].values == {
        "agi_network": "yes",
        "agi_channel": "Local/s@cc-caller-00000001;1",
        "agi_accountcode": "",
        "agi_arg_1": "x y",
    }
    assert items[1] == AgiReply(code=200, text="200 result=0", result="0")


def test_environment_split_across_feeds_byte_by_byte():
    parser = AgiParser()
    out = []
    for byte in ENV:
        out += parser.feed(bytes([byte]))
    assert len(out) == 1 and parser.env_done


@pytest.mark.parametrize(
    ("line", "result", "data", "attrs"),
    [
        ("200 result=0 endpos=8000", "0", None, {"endpos": "8000"}),
        ("200 result=12", "12", None, {}),
        ("200 result= (timeout)", "", "timeout", {}),
        ("200 result=12 (timeout)", "12", "timeout", {}),
        ("200 result=-1", "-1", None, {}),
        ("200 result=49 endpos=1234", "49", None, {"endpos": "1234"}),
        ("200 result=1 (a (nested) value)", "1", "a (nested) value", {}),
        (
            "200 result=1 (speech) endpos=1234 results=foo bar",
            "1",
            "speech",
            {"endpos": "1234", "results": "foo bar"},
        ),
        ("200 result=-1 endpos=0", "-1", None, {"endpos": "0"}),
    ],
)
def test_200_replies(line, result, data, attrs):
    reply = parse_reply([line])
    assert (reply.code, reply.result, reply.data, dict(reply.attrs)) == (200, result, data, attrs)


def test_error_codes_and_multiline_usage():
    parser = AgiParser()
    parser.feed(ENV)
    items = parser.feed(
        b"510 Invalid or unknown command\n"
        b"511 Command Not Permitted on a dead channel or intercepted channel\n"
        b"520-Invalid command syntax.  Proper usage follows:\n"
        b" Usage: GET DATA <file to be streamed> [timeout] [max digits]\n"
        b"520 End of proper usage.\n"
        b"520 Invalid command syntax.  Proper usage not available.\n"
    )
    assert [i.code for i in items if isinstance(i, AgiReply)] == [510, 511, 520, 520]
    usage = items[2]
    assert isinstance(usage, AgiReply)
    assert "Usage: GET DATA" in usage.text and usage.text.endswith("520 End of proper usage.")


def test_hangup_line_anywhere_after_environment():
    parser = AgiParser()
    items = parser.feed(
        ENV + b"200 result=-1 endpos=0\nHANGUP\n511 Command Not Permitted on a dead channel\n"
    )
    assert [type(i) for i in items] == [AgiEnvironment, AgiReply, HangupNotice, AgiReply]


def test_crlf_tolerated():
    parser = AgiParser()
    items = parser.feed(ENV.replace(b"\n", b"\r\n") + b"200 result=1\r\n")
    assert isinstance(items[0], AgiEnvironment) and items[0].values["agi_network"] == "yes"
    assert isinstance(items[1], AgiReply) and items[1].result == "1"


@pytest.mark.parametrize(
    "garbage",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\n",  # empty environment
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n",  # a TLS hello
        b"agi_network yes\n",
    ],
)
def test_garbage_environment_rejected(garbage):
    with pytest.raises(AgiProtocolError):
        AgiParser().feed(garbage)


def test_garbage_reply_rejected():
    parser = AgiParser()
    parser.feed(ENV)
    with pytest.raises(AgiProtocolError):
        parser.feed(b"hello there\n")


def test_line_length_is_bounded_even_without_newline():
    parser = AgiParser(max_line=100)
    with pytest.raises(AgiProtocolError, match="longer than 100"):
        parser.feed(b"agi_x: " + b"a" * 200)


def test_environment_size_is_bounded():
    parser = AgiParser(max_env_lines=5)
    with pytest.raises(AgiProtocolError, match="longer than 5 lines"):
        parser.feed(b"".join(b"agi_k%d: v\n" % i for i in range(10)))


def test_quote_as_asterisk_expects():
    assert quote("cc-welcome") == "cc-welcome"
    assert quote_always("") == '""'
    assert quote_always("12") == '"12"'
    assert quote("welcome>main:2") == '"welcome>main:2"'
    assert quote('say "hi" \\ there') == '"say \\"hi\\" \\\\ there"'
    assert encode_command("STREAM FILE", quote("callcenter/zh/welcome"), quote_always("")) == (
        b'STREAM FILE callcenter/zh/welcome ""\n'
    )
    with pytest.raises(ValueError):
        quote("two\nlines")


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\r\n\0", codec="utf-8")), max_size=5))
def test_split_command_reverses_quote(args):
    line = encode_command("SET VARIABLE", *(quote(a) for a in args)).decode("utf-8")
    assert split_command(line) == ["SET", "VARIABLE", *args]


def test_recorded_commands_split_as_asterisk_did():
    calls = load_fastagi_transcript(transcript_dir() / "b1-incoming-fastagi-hold-agent1001.fastagi.txt")
    commands = [command for command, _ in calls[0].exchanges]
    assert split_command(commands[2]) == ["STREAM", "FILE", "cc-welcome", ""]
    assert split_command(commands[4]) == ["SET", "VARIABLE", "IVR_DIGITS", "12"]
    assert split_command(commands[5]) == ["VERBOSE", "FastAGI ivr done, digits=12", "1"]


def test_every_recorded_reply_parses():
    count = 0
    for path in sorted(transcript_dir().glob("*.fastagi.txt")):
        for call in load_fastagi_transcript(path):
            assert call.env["agi_network"] == "yes"
            for _, reply in call.exchanges:
                parsed = parse_reply([reply])
                assert parsed.code == 200 and parsed.result is not None
                count += 1
    assert count >= 6 * 54  # b1, c1, d1, d2 and 50 calls of f2
