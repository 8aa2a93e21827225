"""Sans-IO FastAGI protocol: the environment block, reply lines, command encoding. No sockets here.

What Asterisk (res_agi.c) sends, every line ending in LF:

- the environment: ``agi_<name>: <value>`` lines, ended by an empty line (``agi_accountcode: `` can
  have an empty value);
- one reply per command: ``200 result=<r> [(<data>)] [key=value ...]`` e.g. ``200 result=0 endpos=8000``,
  ``200 result=12`` (GET DATA digits), ``200 result= (timeout)``, ``200 result=-1`` (failure, often a
  hang-up); ``510 Invalid or unknown command``; ``511 Command Not Permitted on a dead channel or
  intercepted channel``; ``520 Invalid command syntax.  Proper usage not available.`` or a multi-line
  ``520-...`` usage text (continuation lines may lack the prefix) closed by ``520 End of proper usage.``;
- ``HANGUP`` on a line of its own, at any time, once the caller has hung up (FastAGI's SIGHUP).

Commands are one line. res_agi's ``parse_args`` splits on blanks, honours double quotes and a
backslash escapes the next character; ``quote`` produces exactly that, ``split_command`` reverses it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

#: Longest line we accept from Asterisk. Real lines are < 200 bytes; a variable value can be longer.
MAX_LINE = 8192
#: Most environment lines we accept (Asterisk sends about 22 plus the agi_arg_N).
MAX_ENV_LINES = 200

DEAD_CHANNEL_CODE = 511


class AgiError(Exception):
    """Base of the AGI layer's errors."""


class AgiHangup(AgiError):
    """The caller hung up (HANGUP line, 511 on a dead channel, or Asterisk closed the connection)."""


class AgiCommandError(AgiError):
    """Asterisk refused or failed a command (510, 520, or 200 result=-1 on a live channel)."""

    def __init__(self, code: int, text: str, command: str = "") -> None:
        self.code = code
        self.text = text
        self.command = command
        where = f" for {command!r}" if command else ""
        super().__init__(f"AGI {code}{where}: {text}")


class AgiProtocolError(AgiError):
    """The peer sent something that is not AGI (garbage, oversized lines, a broken environment)."""


class AgiIdleTimeout(AgiError):
    """No reply to a command within its own wait plus ``agi.idle_timeout_seconds``: the peer went silent."""


# --- what the parser yields -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgiEnvironment:
    values: Any  # read-only mapping: full key ("agi_channel") -> value

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))


@dataclass(frozen=True, slots=True)
class AgiReply:
    code: int
    text: str  # the whole reply, lines joined with LF, without the final LF
    result: str | None = None  # the value after result= (200 replies only); '' for GET DATA timeouts
    data: str | None = None  # the text in parentheses, e.g. 'timeout', a variable's value
    attrs: Any = field(default_factory=lambda: MappingProxyType({}))  # e.g. {'endpos': '8000'}

    @property
    def ok(self) -> bool:
        return self.code == 200

    @property
    def result_int(self) -> int:
        if self.result is None:
            raise AgiProtocolError(f"reply has no result: {self.text!r}")
        try:
            return int(self.result)
        except ValueError:
            raise AgiProtocolError(f"result is not a number: {self.text!r}") from None


@dataclass(frozen=True, slots=True)
class HangupNotice:
    """Asterisk's 'HANGUP' line: the caller has gone; later commands get 511 or result=-1."""


AgiInput = AgiEnvironment | AgiReply | HangupNotice

_ENV_LINE = re.compile(r"^(agi_[A-Za-z0-9_]+):(?: (.*))?$")
_REPLY_200 = re.compile(r"^200 result=(\S*)(.*)$")
_CODE = re.compile(r"^(\d{3})([ -])(.*)$")


def parse_reply(lines: list[str]) -> AgiReply:
    """One reply from its lines (one, or several for a 520- usage text)."""
    first = lines[0]
    text = "\n".join(lines)
    match = _CODE.match(first)
    if match is None:
        raise AgiProtocolError(f"not an AGI reply: {first[:80]!r}")
    code = int(match.group(1))
    if code != 200:
        return AgiReply(code=code, text=text)
    found = _REPLY_200.match(first)
    if found is None:
        raise AgiProtocolError(f"200 reply without result=: {first[:80]!r}")
    result, rest = found.group(1), found.group(2).strip()
    data = None
    if rest.startswith("("):
        # The data runs to the last ')': a variable's value may itself hold parentheses.
        close = rest.rfind(")")
        if close < 0:
            raise AgiProtocolError(f"unclosed '(' in reply: {first[:80]!r}")
        data, rest = rest[1:close], rest[close + 1 :].strip()
    return AgiReply(code=200, text=text, result=result, data=data, attrs=_attrs(rest))


def _attrs(rest: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    last = None
    for token in rest.split():
        key, eq, value = token.partition("=")
        if eq:
            attrs[key] = value
            last = key
        elif last is not None:  # 'results=foo bar' (speech): a value with blanks
            attrs[last] += " " + token
    return attrs


class AgiParser:
    """Feed bytes from Asterisk, get ``AgiInput`` items back: first one ``AgiEnvironment``, then replies.

    ``HangupNotice`` can come at any point after the environment, even between the lines of nothing.
    Raises ``AgiProtocolError`` on garbage, on a line longer than ``max_line`` or an environment
    longer than ``max_env_lines``; the connection should then be dropped.
    """

    def __init__(self, max_line: int = MAX_LINE, max_env_lines: int = MAX_ENV_LINES) -> None:
        self.max_line = max_line
        self.max_env_lines = max_env_lines
        self._buffer = b""
        self._env: dict[str, str] | None = {}  # None once the environment is complete
        self._usage: list[str] | None = None  # lines of a 520- reply in progress

    @property
    def env_done(self) -> bool:
        return self._env is None

    def feed(self, data: bytes) -> list[AgiInput]:
        self._buffer += data
        out: list[AgiInput] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > self.max_line:
                    raise AgiProtocolError(f"line longer than {self.max_line} bytes")
                return out
            raw, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
            if len(raw) > self.max_line:
                raise AgiProtocolError(f"line longer than {self.max_line} bytes")
            item = self._line(raw.removesuffix(b"\r").decode("utf-8", errors="replace"))
            if item is not None:
                out.append(item)

    def _line(self, line: str) -> AgiInput | None:
        if self._env is not None:
            return self._env_line(self._env, line)
        if self._usage is not None:
            self._usage.append(line)
            if line.startswith("520 "):
                lines, self._usage = self._usage, None
                return AgiReply(code=520, text="\n".join(lines))
            if len(self._usage) > self.max_env_lines:
                raise AgiProtocolError("520 usage text never ended")
            return None
        if line == "HANGUP":
            return HangupNotice()
        if line.startswith("520-"):
            self._usage = [line]
            return None
        if _CODE.match(line) is None:
            raise AgiProtocolError(f"not an AGI reply: {line[:80]!r}")
        return parse_reply([line])

    def _env_line(self, env: dict[str, str], line: str) -> AgiInput | None:
        if line == "":
            if not env:
                raise AgiProtocolError("empty AGI environment")
            self._env = None
            return AgiEnvironment(env)
        match = _ENV_LINE.match(line)
        if match is None:
            raise AgiProtocolError(f"not an agi_* environment line: {line[:80]!r}")
        if len(env) >= self.max_env_lines:
            raise AgiProtocolError(f"AGI environment longer than {self.max_env_lines} lines")
        env[match.group(1)] = match.group(2) or ""
        return None


# --- commands ------------------------------------------------------------------------------------

_BARE = re.compile(r"^[A-Za-z0-9_.,:/@+=#*-]+$")


def quote(arg: object) -> str:
    """One argument as res_agi's parse_args reads it: bare when safe, else in double quotes."""
    text = str(arg)
    if "\n" in text or "\r" in text or "\0" in text:
        raise ValueError("an AGI argument cannot hold a line break or NUL")
    if _BARE.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_always(arg: object) -> str:
    """In double quotes even when bare would do (escape digits: ``""`` means none)."""
    text = quote(arg)
    return text if text.startswith('"') else f'"{text}"'


def encode_command(command: str, *args: str) -> bytes:
    """``command`` (e.g. 'STREAM FILE') followed by already-quoted ``args``, as one LF-ended line."""
    line = " ".join([command, *args])
    if "\n" in line or "\r" in line:
        raise ValueError("an AGI command cannot hold a line break")
    return line.encode("utf-8") + b"\n"


def split_command(line: str) -> list[str]:
    """res_agi.c ``parse_args``: what Asterisk makes of a command line (used by tests and the simulator)."""
    args: list[str] = []
    current: list[str] | None = None
    quoted = escaped = False
    for char in line.rstrip("\n"):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
            if current is None:
                current = []
            continue
        elif char == '"':
            quoted = not quoted
            if current is None:
                current = []
            continue
        elif char in " \t" and not quoted:
            if current is not None:
                args.append("".join(current))
                current = None
            continue
        if current is None:
            current = []
        current.append(char)
    if current is not None:
        args.append("".join(current))
    return args
