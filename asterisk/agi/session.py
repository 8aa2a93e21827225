"""One FastAGI conversation with Asterisk for one channel: typed commands over an asyncio stream.

Errors propagate: a refused command raises ``AgiCommandError``, a hang-up ``AgiHangup``, garbage
``AgiProtocolError``, a peer silent for longer than the command's own wait plus ``idle_timeout``
``AgiIdleTimeout``. Nothing here swallows an exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from asterisk.agi.protocol import (
    DEAD_CHANNEL_CODE,
    AgiCommandError,
    AgiEnvironment,
    AgiHangup,
    AgiIdleTimeout,
    AgiParser,
    AgiProtocolError,
    AgiReply,
    HangupNotice,
    encode_command,
    quote,
    quote_always,
)

_READ_SIZE = 4096


class AgiSession:
    """Commands for one channel. Built by ``AgiServer`` once the environment has been read."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        parser: AgiParser,
        env: Mapping[str, str],
        pending: list[AgiReply | HangupNotice] | None = None,
        *,
        idle_timeout: float | None = None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._parser = parser
        self.env: Mapping[str, str] = env
        self._pending: list[AgiReply | HangupNotice] = list(pending or [])
        self.hung_up = False  # Asterisk said HANGUP (or a command met a dead channel)
        self.commands_sent = 0
        #: seconds of silence allowed beyond a command's own wait (None: wait forever)
        self.idle_timeout = idle_timeout

    # -- environment -------------------------------------------------------------------------------

    @property
    def channel(self) -> str:
        return self.env.get("agi_channel", "?")

    @property
    def uniqueid(self) -> str:
        return self.env.get("agi_uniqueid", "")

    @property
    def script(self) -> str:
        """The path of the agi:// URL, e.g. 'ivr' or 'ivr/survey'."""
        return self.env.get("agi_network_script", "")

    @property
    def language(self) -> str:
        return self.env.get("agi_language", "")

    @property
    def args(self) -> list[str]:
        found = []
        n = 1
        while f"agi_arg_{n}" in self.env:
            found.append(self.env[f"agi_arg_{n}"])
            n += 1
        return found

    # -- commands ----------------------------------------------------------------------------------

    async def answer(self) -> None:
        reply = await self.command("ANSWER")
        self._fail_on_minus_one(reply, "ANSWER")

    async def stream_file(self, name: str, escape_digits: str = "") -> str | None:
        """Play a sound file; returns the escape digit pressed, or None when played to the end."""
        args = (quote(name), quote_always(escape_digits))
        reply = await self.command("STREAM FILE", *args)
        self._fail_on_minus_one(reply, "STREAM FILE " + " ".join(args))
        return _digit(reply)

    async def get_data(self, file: str, timeout_ms: int, max_digits: int) -> tuple[str, bool]:
        """Play ``file`` and collect up to ``max_digits``; returns (digits, timed_out)."""
        args = (quote(file), str(int(timeout_ms)), str(int(max_digits)))
        # Asterisk's timeout runs again after each digit.
        reply = await self.command("GET DATA", *args, wait=timeout_ms / 1000 * max(1, max_digits))
        self._fail_on_minus_one(reply, "GET DATA " + " ".join(args))
        return reply.result or "", reply.data == "timeout"

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        wait = timeout_ms / 1000 if timeout_ms >= 0 else None  # -1: until a key, by design
        reply = await self.command("WAIT FOR DIGIT", str(int(timeout_ms)), wait=wait)
        self._fail_on_minus_one(reply, "WAIT FOR DIGIT")
        return _digit(reply)

    async def set_variable(self, name: str, value: str) -> None:
        await self.command("SET VARIABLE", quote(name), quote_always(value))

    async def get_variable(self, name: str) -> str | None:
        """The variable's value, or None when it is not set."""
        reply = await self.command("GET VARIABLE", quote(name))
        if reply.result == "1":
            return reply.data or ""
        return None

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.command("VERBOSE", quote_always(message), str(int(level)))

    async def hangup(self) -> None:
        await self.command("HANGUP")

    async def exec(self, application: str, options: str = "", *, wait: float | None = 0.0) -> str | None:
        """Run a dialplan application (``EXEC Dial "PJSIP/110@trunk,60"``); returns its result.

        ``wait``: the seconds the application may take (a Record's length, a Dial's ring and talk).
        Raises AgiCommandError when the application does not exist (result=-2), AgiHangup when the
        channel hung up during it (result=-1)."""
        args = (quote(application), quote_always(options))
        reply = await self.command("EXEC", *args, wait=wait)
        if reply.result == "-2":
            raise AgiCommandError(200, reply.text, "EXEC " + " ".join(args))
        self._fail_on_minus_one(reply, "EXEC " + " ".join(args))
        return reply.result

    async def command(self, command: str, *quoted_args: str, wait: float | None = 0.0) -> AgiReply:
        """Send one command (arguments already quoted) and return its 200 reply.

        ``wait``: the seconds the command itself may take (None: no limit); the reply may come
        ``idle_timeout`` later than that. Raises AgiHangup (dead channel, connection closed),
        AgiCommandError (510, 520), AgiIdleTimeout (no reply in time).
        """
        line = encode_command(command, *quoted_args)
        if self.hung_up and command not in _ALLOWED_WHEN_DEAD:
            raise AgiHangup(f"{self.channel} hung up before {command}")
        try:
            self._writer.write(line)
            await self._writer.drain()
            self.commands_sent += 1
            limit = None if wait is None or self.idle_timeout is None else wait + self.idle_timeout
            try:
                async with asyncio.timeout(limit):
                    reply = await self._next_reply(command)
            except TimeoutError:
                raise AgiIdleTimeout(f"no reply to {command} on {self.channel} within {limit:g} s") from None
        except ConnectionError as exc:
            self.hung_up = True
            raise AgiHangup(f"connection of {self.channel} lost during {command}: {exc}") from exc
        if reply.code == DEAD_CHANNEL_CODE:
            self.hung_up = True
            raise AgiHangup(f"{self.channel} hung up ({command}: {reply.text})")
        if reply.code != 200:
            raise AgiCommandError(reply.code, reply.text, line.decode("utf-8").rstrip("\n"))
        return reply

    # -- internals ---------------------------------------------------------------------------------

    def _fail_on_minus_one(self, reply: AgiReply, command: str) -> None:
        if reply.result != "-1":
            return
        if self.hung_up or self._hangup_buffered():
            self.hung_up = True
            raise AgiHangup(f"{self.channel} hung up during {command}")
        # -1 on a live channel: e.g. a sound file that does not exist.
        raise AgiCommandError(200, reply.text, command)

    def _hangup_buffered(self) -> bool:
        # Asterisk sends 'HANGUP' right after the -1 reply; it is usually in the same read.
        for item in self._pending:
            if isinstance(item, HangupNotice):
                return True
        return False

    async def _next_reply(self, command: str) -> AgiReply:
        while True:
            while self._pending:
                item = self._pending.pop(0)
                if isinstance(item, HangupNotice):
                    self.hung_up = True
                    continue
                return item
            data = await self._reader.read(_READ_SIZE)
            if not data:
                self.hung_up = True
                raise AgiHangup(f"Asterisk closed the connection of {self.channel} during {command}")
            for parsed in self._parser.feed(data):
                if isinstance(parsed, AgiEnvironment):
                    raise AgiProtocolError("a second AGI environment")
                self._pending.append(parsed)


def _digit(reply: AgiReply) -> str | None:
    """STREAM FILE / WAIT FOR DIGIT give the ASCII code of the key pressed, 0 for none."""
    code = reply.result_int
    if code == 0:
        return None
    if code < 0 or code > 127:
        raise AgiProtocolError(f"digit code out of range: {reply.text!r}")
    return chr(code)


#: res_agi runs these on a dead channel too (the rest get 511); we stop sending the others at once.
_ALLOWED_WHEN_DEAD = frozenset({"SET VARIABLE", "GET VARIABLE", "GET FULL VARIABLE", "VERBOSE", "NOOP"})
