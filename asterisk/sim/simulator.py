"""PbxSimulator: the AMI server, the channel registry and the calls, as one ``async with`` resource."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import TracebackType

from asterisk.ami.codec import Message
from asterisk.sim import load
from asterisk.sim import model as ev
from asterisk.sim.ami_server import AmiServer
from asterisk.sim.callback import CallbackOriginate
from asterisk.sim.clock import SimClock
from asterisk.sim.config import CallScript, SimConfig
from asterisk.sim.contexts import run_call
from asterisk.sim.dialplan import CallRun
from asterisk.sim.model import STATE_UP, Channel, Headers, newchannel
from asterisk.sim.pbx import AppCall, Pbx
from asterisk.sim.truth import CallTruth

ProgressCallback = Callable[[int, int], None]


class SimulatorNotRunning(RuntimeError):
    pass


class PbxSimulator:
    """Behaves as an Asterisk 22 running extensions_callcenter.conf.

    ``async with PbxSimulator(cfg) as sim:`` binds AMI (``sim.ami_port``); every call runs as a
    task of the simulator's TaskGroup and ends exactly once (``sim.ledger``).
    """

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.ledger: dict[str, CallTruth] = {}
        self._runs: dict[str, CallRun] = {}
        self._index = itertools.count(0)
        self._tg: asyncio.TaskGroup | None = None
        self._clock: SimClock | None = None
        self._pbx: Pbx | None = None
        self._ami: AmiServer | None = None
        self._loads = 0
        self._listeners: list[Callable[[Headers], None]] = []

    def set_agi_url(self, url: str) -> None:
        """Point new calls at another FastAGI server (the demo learns the daemon's port after start)."""
        self.config = SimConfig.model_validate({**self.config.model_dump(), "agi_url": url})
        if self._pbx is not None:
            self._pbx.config = self.config

    # ---- lifecycle
    async def __aenter__(self) -> PbxSimulator:
        start = self.config.start or datetime.now(UTC).replace(microsecond=0)
        self._clock = SimClock(start, self.config.speed)
        if self.config.cdr_csv:
            from asterisk.sim.cdr import CdrCsvWriter

            self._listeners.append(CdrCsvWriter(self.config.cdr_csv, self._clock.now))
        self._pbx = Pbx(self.config, self._clock, self._emit, self._originate)
        self._pbx.callback_originate = self._callback_originate
        self._ami = AmiServer(self.config, self._pbx)
        await self._ami.start()
        tg = asyncio.TaskGroup()
        await tg.__aenter__()
        self._tg = tg
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._pbx is not None:
                self._pbx.shutdown()
            if self._tg is not None:
                await self._tg.__aexit__(et, exc, tb)
        finally:
            self._tg = None
            if self._ami is not None:
                await self._ami.close()

    @property
    def ami_port(self) -> int:
        if self._ami is None:
            raise SimulatorNotRunning("enter the simulator first: async with PbxSimulator(cfg) as sim")
        return self._ami.port

    @property
    def action_log(self) -> list[tuple[float, str, str, str]]:
        """Every AMI action run: (time.monotonic(), session id, AMI user, action name), in order."""
        if self._ami is None:
            raise SimulatorNotRunning("the simulator is not running")
        return list(self._ami.action_log)

    @property
    def clock(self) -> SimClock:
        if self._clock is None:
            raise SimulatorNotRunning("the simulator is not running")
        return self._clock

    @property
    def app_calls(self) -> list[AppCall]:
        """Originates into an application (a supervisor's ChanSpy), in order."""
        if self._pbx is None:
            raise SimulatorNotRunning("the simulator is not running")
        return self._pbx.app_calls

    def add_listener(self, fn: Callable[[Headers], None]) -> None:
        """Also hand every emitted event to ``fn`` (tests, recording)."""
        self._listeners.append(fn)

    def _emit(self, headers: Headers) -> None:
        if self._ami is not None:
            self._ami.broadcast(headers)
        for fn in self._listeners:
            fn(headers)

    # ---- fault injection
    def drop_ami(self) -> int:
        """Close every AMI connection now; returns how many were open."""
        if self._ami is None:
            raise SimulatorNotRunning("the simulator is not running")
        return self._ami.drop_sessions()

    def freeze_ami(self, frozen: bool = True) -> None:
        """Stop (or resume) answering on AMI: actions and events wait, as in a hung Asterisk."""
        if self._ami is None:
            raise SimulatorNotRunning("the simulator is not running")
        self._ami.frozen = frozen

    def restart(self) -> int:
        """Asterisk restarts: AMI connections drop first, then every channel is hung up (the events of
        that are sent to nobody); new logins get a fresh ``FullyBooted``. Returns the calls cut."""
        if self._pbx is None or self._ami is None:
            raise SimulatorNotRunning("the simulator is not running")
        self._ami.drop_sessions()
        cut = sum(1 for name, run in self._pbx.runs.items() if run.chan.name == name)
        self._pbx.shutdown(by="restart")
        return cut

    def occupy_device(self, endpoint: str) -> str:
        """A call on an agent's phone that the daemon did not place (a direct call, an outbound follow-up):
        the device is in use (DeviceStateChange INUSE) until ``release_device(name)``. Returns the channel."""
        pbx = self._pbx
        if pbx is None:
            raise SimulatorNotRunning("the simulator is not running")
        vt = self.clock.elapsed()
        uid = pbx.new_uniqueid(vt)
        ch = Channel(name=pbx.new_channel_name(endpoint), uniqueid=uid, linkedid=uid, context="from-internal",
                     exten="s", state=STATE_UP, created_at=vt, app="Dial")
        pbx.add(ch, None)
        self._emit(newchannel(ch))
        return ch.name

    def release_device(self, channel: str) -> None:
        if self._pbx is None:
            raise SimulatorNotRunning("the simulator is not running")
        ch = self._pbx.channels.get(channel)
        if ch is not None:
            self._pbx.end_direct(ch)

    # ---- calls
    def _start(self, script: CallScript, vt: float, context: str = "cc-incoming") -> CallRun:
        if self._tg is None or self._pbx is None:
            raise SimulatorNotRunning("the simulator is not running")
        run = CallRun(self._pbx, script, next(self._index), vt, context=context)
        self.ledger[run.truth.uniqueid] = run.truth
        self._runs[run.truth.uniqueid] = run
        self._tg.create_task(run_call(run), name=f"call {run.truth.uniqueid}")
        return run

    async def place_call(
        self,
        caller: str = "13800138000",
        *,
        name: str = "",
        dtmf: str | Sequence[str] = (),
        patience: float = 120.0,
        talk: float = 60.0,
        caller_hangs_up: bool = False,
        dtmf_delay: float = 1.0,
        survey: str | Sequence[str] = (),
    ) -> str:
        """Start one scripted call now; returns its id (the caller channel's Uniqueid)."""
        script = CallScript(
            caller=caller,
            caller_name=name,
            dtmf=_entries(dtmf),
            patience=patience,
            talk=talk,
            caller_hangs_up=caller_hangs_up,
            dtmf_delay=dtmf_delay,
            survey=_entries(survey),
        )
        return self._start(script, self.clock.elapsed()).truth.uniqueid

    async def wait_call(self, uniqueid: str) -> CallTruth:
        run = self._runs[uniqueid]
        await run.done.wait()
        return run.truth

    def channel_of(self, uniqueid: str) -> str:
        return self.ledger[uniqueid].channel

    async def drain(self) -> None:
        """Wait until every call placed so far has ended."""
        for run in list(self._runs.values()):
            await run.done.wait()

    async def run_load(self, calls: int | None = None, progress: ProgressCallback | None = None) -> list[str]:
        """Place the configured or generated calls at their arrival times; return when all ended."""
        clock = self.clock
        scripts = list(self.config.calls) or load.generate(
            self.config.load, self.config.seed, clock.start, calls if calls is not None else 100
        )
        if calls is not None and self.config.calls:  # generated: n ordinary calls plus any surge
            scripts = scripts[:calls]
        # The first load counts from the simulator's start so that a seeded run repeats exactly.
        base = 0.0 if self._loads == 0 else clock.elapsed()
        self._loads += 1
        scripts.sort(key=lambda s: s.arrival)
        runs: list[CallRun] = []
        loop = asyncio.get_running_loop()
        for script in scripts:
            vt = base + script.arrival
            delay = clock.real(vt) - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            runs.append(self._start(script, vt))
        total = len(runs)
        for n, run in enumerate(runs, 1):
            await run.done.wait()
            if progress is not None:
                progress(n, total)
        return [r.truth.uniqueid for r in runs]

    def _callback_originate(self, msg: Message, action_id: str | None) -> None:
        if self._tg is None or self._pbx is None:
            raise SimulatorNotRunning("the simulator is not running")
        self._tg.create_task(CallbackOriginate(self._pbx, msg, action_id).run(), name="callback originate")

    def _originate(self, script: CallScript, context: str, action_id: str | None, exten: str) -> str | None:
        if context not in ("cc-incoming", "cc-hold"):
            self._emit(ev.originate_response(action_id, False, "", context, exten, 0, "<null>", "", ""))
            return None
        run = self._start(script, self.clock.elapsed(), context)
        ch = run.chan
        self._emit(
            ev.originate_response(
                action_id, True, ch.name, context, exten, 4, ch.uniqueid, ch.cid_num, ch.cid_name
            )
        )
        return ch.uniqueid


def _entries(value: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value else ()
    return tuple(value)
