"""AGI(agi://...) as Asterisk runs it: connect, send the agi_* environment, answer commands.

Wire format as recorded in b1-*.fastagi.txt (LF line ends, an empty line after the environment)
and replies as res_agi.c sends them. When the caller hangs up during the session the server gets
``HANGUP`` and then ``511`` for commands that need a live channel (res_agi.c's dead-channel table).
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from urllib.parse import urlsplit

from asterisk.sim import model as ev
from asterisk.sim.dialplan import CallRun, Hungup, Redirected

DEAD_511 = "511 Command Not Permitted on a dead channel or intercept routine"
RESULT_TEXT = {
    -1: "Failure",  # AGIExecEnd of a command whose handler failed (a sound file that does not exist)
    200: "Success",
    510: "Invalid or unknown command",
    511: "Command Not Permitted on a dead channel or intercept routine",
    520: "Usage",
}
#: commands res_agi.c allows on a dead channel
DEAD_OK = {
    "VERBOSE",
    "SET VARIABLE",
    "GET VARIABLE",
    "GET FULL VARIABLE",
    "NOOP",
    "HANGUP",
    "EXEC",
    "SET CONTEXT",
    "SET EXTENSION",
    "SET PRIORITY",
    "SET CALLERID",
    "DATABASE GET",
    "DATABASE PUT",
}
KNOWN = {
    "ANSWER",
    "STREAM FILE",
    "GET DATA",
    "WAIT FOR DIGIT",
    "SAY DIGITS",
    "SAY NUMBER",
    "CHANNEL STATUS",
} | DEAD_OK
CONNECT_TIMEOUT = 5.0


def split_args(line: str) -> list[str]:
    """Split an AGI command line the way res_agi.c's parse_args does (double quotes, backslash)."""
    out: list[str] = []
    cur: list[str] = []
    quoted = escaped = started = False
    for c in line:
        if escaped:
            cur.append(c)
            escaped = False
        elif c == "\\":
            escaped = started = True
        elif c == '"':
            quoted = not quoted
            started = True
        elif c in " \t" and not quoted:
            if started:
                out.append("".join(cur))
                cur, started = [], False
        else:
            cur.append(c)
            started = True
    if started:
        out.append("".join(cur))
    return out


def match_command(args: list[str]) -> tuple[str, list[str]]:
    """('GET DATA', ['file', '3000', '4']) from ['GET', 'DATA', 'file', '3000', '4']."""
    for n in (3, 2, 1):
        name = " ".join(a.upper() for a in args[:n])
        if len(args) >= n and name in KNOWN:
            return name, args[n:]
    return "", args


def environment(run: CallRun, url: str, priority: int) -> bytes:
    ch = run.chan
    parts = urlsplit(url)
    tech = ch.name.split("/", 1)[0]
    env = [
        ("agi_network", "yes"),
        ("agi_network_script", parts.path.lstrip("/")),
        ("agi_request", url),
        ("agi_channel", ch.name),
        ("agi_language", ch.language),
        ("agi_type", tech),
        ("agi_uniqueid", ch.uniqueid),
        ("agi_version", "22.10.1"),
        ("agi_callerid", ch.cid_num or "unknown"),
        ("agi_calleridname", ch.cid_name or "unknown"),
        ("agi_callingpres", "0"),
        ("agi_callingani2", "0"),
        ("agi_callington", "0"),
        ("agi_callingtns", "0"),
        ("agi_dnid", run.cfg.dnid or "unknown"),
        ("agi_rdnis", "unknown"),
        ("agi_context", ch.context),
        ("agi_extension", ch.exten),
        ("agi_priority", str(priority)),
        ("agi_enhanced", "0.0"),
        ("agi_accountcode", ch.accountcode),
        ("agi_threadid", str(139736071272128 + run.index)),
    ]
    return ("".join(f"{k}: {v}\n" for k, v in env) + "\n").encode("utf-8")


class AgiSession:
    def __init__(self, run: CallRun, survey: bool) -> None:
        self.run = run
        self.survey = survey
        self.inputs: deque[str] = run.survey_inputs if survey else run.inputs
        self.rng = random.Random(f"{run.cfg.seed}:agi:{run.index}:{int(survey)}")
        #: set once the channel died (Hungup) or was redirected away during the session
        self.ended: Hungup | Redirected | None = None
        #: a command failed on a live channel (STREAM FILE of a missing file): res_agi then ends the script
        #: with AGISTATUS=FAILURE, however well the rest went ("AGI Script ... completed, returning -1")
        self.failed = False
        self._last_failed = False

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        run = self.run
        while True:
            try:
                if self.ended is None:
                    line = await run.race(reader.readline())
                else:
                    line = await run.race(reader.readline(), dead_timeout=run.cfg.agi_dead_timeout)
            except (Hungup, Redirected) as exc:
                self._die(exc, writer)
                continue
            if not line:
                return
            text = line.decode("utf-8", errors="replace").strip()
            if not text:
                continue
            reply = await self.command(text)
            writer.write((reply + "\n").encode("utf-8"))
            await writer.drain()
            if self.ended is not None and not self._hangup_sent:
                self._hangup_sent = True
                writer.write(b"HANGUP\n")

    _hangup_sent = False

    def _die(self, exc: Hungup | Redirected, writer: asyncio.StreamWriter) -> None:
        if self.ended is None:
            self.ended = exc
        if not self._hangup_sent:
            self._hangup_sent = True
            writer.write(b"HANGUP\n")

    async def command(self, text: str) -> str:
        run = self.run
        cid = str(self.rng.randrange(100_000_000, 2_000_000_000))
        run.emit(ev.agi_exec_start(run.chan, cid, text))
        name, args = match_command(split_args(text))
        if not name:
            code, reply = 510, "510 Invalid or unknown command"
        elif self.ended is not None and name not in DEAD_OK:
            code, reply = 511, DEAD_511
        else:
            try:
                self._last_failed = False
                reply = await self.execute(name, args)
                code = -1 if self._last_failed else int(reply[:3])
            except (Hungup, Redirected) as exc:
                # The channel went away in the middle of a command: it returns -1 (res_agi.c).
                self.ended = self.ended or exc
                code, reply = 200, "200 result=-1" + (" endpos=0" if name == "STREAM FILE" else "")
            except (ValueError, IndexError):
                code, reply = 520, "520 Invalid command syntax.  Proper usage not available."
        run.emit(ev.agi_exec_end(run.chan, cid, text, code, RESULT_TEXT.get(code, "Failure")))
        return reply

    async def execute(self, name: str, args: list[str]) -> str:
        run = self.run
        ch = run.chan
        if name == "ANSWER":
            run.answer()
            return "200 result=0"
        if name == "SET VARIABLE":
            run.setvar(args[0], args[1] if len(args) > 1 else "")
            return "200 result=1"
        if name in ("GET VARIABLE", "GET FULL VARIABLE"):
            var = args[0]
            if name == "GET FULL VARIABLE" and var.startswith("${") and var.endswith("}"):
                var = var[2:-1]
            value = {"UNIQUEID": ch.uniqueid, "CHANNEL": ch.name}.get(var) or ch.getvar(var)
            return f"200 result=1 ({value})" if value else "200 result=0"
        if name in ("VERBOSE", "SET CONTEXT", "SET EXTENSION", "SET PRIORITY", "SET CALLERID"):
            return "200 result=1" if name in ("VERBOSE", "SET CALLERID") else "200 result=0"
        if name in ("NOOP", "EXEC", "DATABASE PUT"):
            return "200 result=0"
        if name == "DATABASE GET":
            return "200 result=0"
        if name == "CHANNEL STATUS":
            return f"200 result={ch.state}"
        if name == "HANGUP":
            if self.ended is None:
                self.ended = Hungup("agi_hangup", 16)
                run.emit(ev.soft_hangup_request(ch, 16))
            return "200 result=1"
        if name == "STREAM FILE":
            return await self.stream(args[0], args[1] if len(args) > 1 else "")
        if name in ("SAY DIGITS", "SAY NUMBER"):
            length = 0.6 * len(args[0])
            return await self.stream("", args[1] if len(args) > 1 else "", length=length)
        if name == "GET DATA":
            timeout = int(args[1]) / 1000 if len(args) > 1 and int(args[1]) > 0 else 6.0
            maxdigits = int(args[2]) if len(args) > 2 and int(args[2]) > 0 else 1024
            return await self.get_data(args[0], timeout, maxdigits)
        if name == "WAIT FOR DIGIT":
            timeout_ms = int(args[0]) if args else -1
            return await self.wait_for_digit(timeout_ms)
        raise ValueError(name)  # unreachable: match_command only returns known names

    def _prompt(self, name: str) -> float:
        return self.run.cfg.prompt_lengths.get(name, self.run.cfg.prompt_seconds)

    def _missing(self, name: str) -> bool:
        return bool(name) and not self.run.cfg.has_sound(name, self.run.chan.language)

    async def _press(self, digit: str) -> None:
        run = self.run
        run.emit(ev.dtmf_begin(run.chan, digit))
        await run.pause(DTMF_LEN)
        run.emit(ev.dtmf_end(run.chan, digit))

    async def stream(self, filename: str, escape: str, *, length: float | None = None) -> str:
        run = self.run
        if length is None and self._missing(filename):
            # res_agi.c handle_streamfile: ast_openstream fails -> "200 result=-1 endpos=0", RESULT_FAILURE
            self.failed = self._last_failed = True
            return "200 result=-1 endpos=0"
        length = self._prompt(filename) if length is None else length
        delay = run.script.dtmf_delay
        if escape and self.inputs and self.inputs[0] and self.inputs[0][0] in escape and delay < length:
            entry = self.inputs.popleft()
            digit, rest = entry[0], entry[1:]
            if rest:
                self.inputs.appendleft(rest)
            await run.pause(delay)
            await self._press(digit)
            self._record(digit)
            return f"200 result={ord(digit)} endpos={int((delay + DTMF_LEN) * 8000)}"
        await run.pause(length)
        run.setvar("PLAYBACKSTATUS", "SUCCESS")
        return f"200 result=0 endpos={int(length * 8000)}"

    async def get_data(self, filename: str, wait_s: float, maxdigits: int) -> str:
        run = self.run
        if self._missing(filename):
            # ast_app_getdata_full returns -1 when the prompt does not stream: "200 result=-1" at once,
            # no keys read (and, unlike STREAM FILE, the command itself succeeds)
            return "200 result=-1"
        prompt = self._prompt(filename) if filename else 0.0  # GET DATA "": keys only, no prompt
        if not self.inputs:
            await run.pause(prompt + wait_s)
            self._record("")
            return "200 result= (wait_s)"
        entry = self.inputs.popleft()
        delay = run.script.dtmf_delay
        if delay > prompt + wait_s:  # the caller is too slow: the menu times out first
            await run.pause(prompt + wait_s)
            self._record("")
            return "200 result= (wait_s)"
        await run.pause(delay)
        digits = ""
        for i, key in enumerate(entry):
            if i:
                await run.pause(DTMF_GAP - DTMF_LEN)
            await self._press(key)
            if key == "#":
                self._record(digits)
                return f"200 result={digits}"
            digits += key
            if len(digits) >= maxdigits:
                self._record(digits)
                return f"200 result={digits}"
        await run.pause(wait_s)
        self._record(digits)
        return f"200 result={digits} (wait_s)"

    async def wait_for_digit(self, timeout_ms: int) -> str:
        run = self.run
        delay = run.script.dtmf_delay
        limit = float("inf") if timeout_ms < 0 else timeout_ms / 1000
        if self.inputs and self.inputs[0] and delay < limit:
            entry = self.inputs.popleft()
            if entry[1:]:
                self.inputs.appendleft(entry[1:])
            await run.pause(delay)
            await self._press(entry[0])
            self._record(entry[0])
            return f"200 result={ord(entry[0])}"
        await run.pause(limit)
        return "200 result=0"

    def _record(self, digits: str) -> None:
        if self.survey:
            self.run.truth.survey_digits += digits
        else:
            self.run.truth.ivr_digits.append(digits)


DTMF_LEN = 0.1
DTMF_GAP = 0.25


async def run_agi(run: CallRun, url: str, *, survey: bool) -> str:
    """Run one FastAGI session for the caller; returns AGISTATUS (and sets it as a channel variable).

    Raises Hungup / Redirected after the session if the channel died or moved meanwhile.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 4573
    session = AgiSession(run, survey)

    def status(value: str) -> str:
        run.setvar("AGISTATUS", value)
        if not survey:
            run.truth.agi_status = value
        return value

    targets = [(host, port)] + [(h, int(p)) for h, _, p in (t.rpartition(":") for t in run.cfg.agi_more)]
    for target in targets:
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                reader, writer = await asyncio.open_connection(*target)
            break
        except (OSError, TimeoutError):
            continue
    else:
        return status("FAILURE")
    try:
        writer.write(environment(run, url, run.chan.priority))
        await writer.drain()
        await session.serve(reader, writer)
    except ConnectionError:
        if session.ended is None:
            return status("FAILURE")
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass
    if isinstance(session.ended, Hungup):
        status("HANGUP")
        raise session.ended
    result = status("FAILURE" if session.failed else "SUCCESS")
    if session.ended is not None:
        raise session.ended
    return result
