"""Several Asterisk servers behind one daemon (docs/scale.md, "Several PBXs").

Each PBX gets its own AMI client (reconnecting on its own), FastAGI listener, resync and AMI executor; they
all feed the one call flow and ACD engine. Two rules make that safe:

- **Call ids are unique across PBXs.** Asterisk uniqueids (``1772413200.12``) are only unique on one server,
  so with ``pbxs:`` every id a PBX hands in (AMI ``*Uniqueid``/``*Linkedid`` headers, the channel list, the
  AGI ``agi_uniqueid``) gets the prefix ``<pbx>:``. Channel names are not rewritten: they only ever go back
  to the PBX the call is on, chosen by the call id's prefix. A single-PBX config ("main") keeps bare ids.
- **Queues are confined per PBX.** A caller on PBX A is offered only to agents registered on PBX A: the call
  carries the required skill ``pbx:A`` and each agent holds the skill of its own PBX (``agents[].pbx``), at
  a level no escalation step relaxes away. No trunk between the PBXs is needed, and a PBX that is cut off
  leaves the others' routing untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ssl
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import datetime
from typing import Any

from asterisk.agi.server import AgiServer, AgiSession
from asterisk.ami.client import AmiClient, AmiNotConnected
from asterisk.ami.codec import Message
from asterisk.ami.tracker import CallTracker, Channel, DeviceChanged
from callcenter.callflow import TRANSFER_EVENTS, CallFlow, DaemonStats, Outgoing
from callcenter.executor import AMI_WORKERS, AmiExecutor
from callcenter.ledger import CallEntry
from callcenter.resync import OpenCallJournal, Resyncer
from callcenter.resync.plan import Kind, KnownCall, LiveChannel
from config.models import AmiConfig, Config, PbxConfig
from queueing import CallQueued, Command, Engine, EngineConfig, OfferCall
from queueing.events import Event
from records.model import CallRecordData

#: the level of the ``pbx:<name>`` skill: far above any escalation's ``relax_levels`` (config skills are 1..10)
SITE_LEVEL = 1_000_000
_ID_HEADERS = ("uniqueid", "linkedid")
#: device headers (DeviceStateChange, app_queue's Agent* events): the same PJSIP/1001 may exist on each PBX
_DEVICE_HEADERS = frozenset({"device", "interface"})


def pbx_skill(name: str) -> str:
    return f"pbx:{name}"


class PbxNames:
    """The PBX each call id belongs to, and the ids' prefixes (empty with one PBX)."""

    def __init__(self, cfg: Config) -> None:
        self.names = [p.name for p in cfg.pbx_list()]
        self.several = bool(cfg.pbxs)
        self.first = self.names[0]
        #: agent id -> the PBX its phone is on
        self.agent_pbx = {str(a.id): a.pbx or self.first for a in cfg.agents}

    def device_agents(self, endpoints: dict[str, str]) -> dict[str, str]:
        """The call flow's ``agent_of_device``: devices as the event stream names them (prefixed)."""
        return {(self.prefix(self.agent_pbx[a]) + ep).lower(): a for a, ep in endpoints.items()}

    def prefix(self, name: str) -> str:
        return f"{name}:" if self.several else ""

    def of(self, call_id: str) -> str:
        if self.several:
            head, sep, _ = call_id.partition(":")
            if sep and head in self.names:
                return head
        return self.first

    def stamp(self, record: CallRecordData) -> CallRecordData:
        """The record with its PBX (records.model ``pbx``)."""
        pbx = self.of(record.call_id)
        return record if record.pbx == pbx else dataclasses.replace(record, pbx=pbx)


#: the events the call flow reads (asterisk/ami/tracker.py, callcenter/callflow.py); others pass unparsed
READ_EVENTS = frozenset(CallTracker.HANDLERS) | TRANSFER_EVENTS


def prefixed(msg: Message, prefix: str, only: frozenset[str] | None = None) -> Message:
    """The message with every ``*Uniqueid``/``*Linkedid`` header prefixed (a new Message; values kept).
    ``only``: leave other events alone. The event stream passes READ_EVENTS: splitting every CEL or VarSet
    into headers cost a third of the daemon's CPU at 2 x 25 calls/s (bench/multi_pbx.py, cProfile)."""
    if not prefix or (only is not None and msg.name not in only):
        return msg
    return Message([(k, prefix + v if v and (k.lower().endswith(_ID_HEADERS) or k.lower() in _DEVICE_HEADERS)
                     else v) for k, v in msg.headers])


class SiteEngine(Engine):
    """The ACD engine with queues confined per PBX: each queued call requires its PBX's skill."""

    def __init__(self, config: EngineConfig, names: PbxNames, **kw: object) -> None:
        super().__init__(config, **kw)  # type: ignore[arg-type]
        self.names = names

    def handle(self, event: Event) -> list[Command]:
        if isinstance(event, CallQueued):
            site = (pbx_skill(self.names.of(event.call_id)), SITE_LEVEL)
            event = dataclasses.replace(event, skills=(*event.skills, site))
        return super().handle(event)


def site_engine(cfg: Config, config: EngineConfig, **kw: object) -> Engine:
    """The daemon's engine: the plain one with one PBX; with ``pbxs:``, agents hold their PBX's skill."""
    if not cfg.pbxs:
        return Engine(config, **kw)  # type: ignore[arg-type]
    names = PbxNames(cfg)
    pbx_of = {str(a.id): a.pbx or names.first for a in cfg.agents}
    agents = tuple(dataclasses.replace(a, skills={**a.skills, pbx_skill(pbx_of[a.id]): SITE_LEVEL})
                   for a in config.agents)
    return SiteEngine(dataclasses.replace(config, agents=agents), names, **kw)


def ami_tls_context(ami: AmiConfig) -> ssl.SSLContext | None:
    """TLS for AMI when ``tls`` is set (Asterisk's manager.conf ``tlsenable``, port 5039)."""
    tls = ami.tls
    if tls is None:
        return None
    ctx = ssl.create_default_context(cafile=tls.cafile)
    if not tls.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class PrefixedAmi:
    """One PBX's AMI client as its resync sees it: the channel list with prefixed ids."""

    def __init__(self, ami: AmiClient, prefix: str) -> None:
        self.ami, self.prefix = ami, prefix

    async def list_action(self, name: str) -> tuple[Message, list[Message]]:
        head, items = await self.ami.list_action(name)
        return head, [prefixed(m, self.prefix) for m in items]

    async def action(self, name: str, headers: dict[str, str]) -> Message:
        return await self.ami.action(name, headers)


class PbxRepairs:
    """The call flow as one PBX's resync sees it: only that PBX's calls (a PBX that reconnects must not
    close or forget the calls of another)."""

    def __init__(self, flow: CallFlow, owns: Callable[[str], bool], prefix: str, agents: Sequence[str]) -> None:
        self.flow, self.owns, self.prefix, self.agents = flow, owns, prefix, list(agents)

    def known_calls(self, generation: int) -> dict[str, KnownCall]:
        return {cid: k for cid, k in self.flow.known_calls(generation).items() if self.owns(cid)}

    def call_ids(self) -> set[str]:
        return {cid for cid in self.flow.call_ids() if self.owns(cid)}

    def take_over(self, entry: CallEntry) -> None:
        self.flow.take_over(entry)

    def close_gone(self, call_id: str, now: datetime) -> None:
        self.flow.close_gone(call_id, now)

    def close_from_cdr(self, call_id: str, fate: object) -> None:
        self.flow.close_from_cdr(call_id, fate)  # type: ignore[arg-type]

    def record_unseen(self, fate: object) -> None:
        self.flow.record_unseen(fate)  # type: ignore[arg-type]

    def adopt(self, ch: LiveChannel, base: CallEntry | None, now: datetime) -> None:
        self.flow.adopt(ch, base, now)

    def repair(self, kind: Kind, call_id: str, ch: LiveChannel, now: datetime) -> None:
        self.flow.repair(kind, call_id, ch, now)

    def devices_seen(self, states: dict[str, str], at: datetime) -> None:
        """As ``CallFlow.devices_seen``, for this PBX's agents only (``states`` has this PBX's raw device
        names): another PBX's agents are not on this list, and must not be taken as free."""
        wanted = {dev.lower(): st for dev, st in states.items()}
        for agent in self.agents:
            endpoint = self.flow.endpoints[agent]
            self.flow.device_states.pop(agent, None)
            self.flow.handle(DeviceChanged(at, self.prefix + endpoint, wanted.get(endpoint.lower(), "NOT_INUSE")))

    def follow_channels(self, live: Sequence[LiveChannel]) -> None:
        tracker = self.flow.tracker
        alive = {ch.uniqueid for ch in live}
        for uid in [u for u in tracker.channels if self.owns(u) and u not in alive]:
            tracker.forget(uid)
        for ch in live:
            if ch.stage is not None or ch.uniqueid not in tracker.channels:
                tracker.adopt(Channel(ch.uniqueid, ch.linkedid, ch.name, ch.caller_number, ch.caller_name,
                                      ch.context, ch.exten, ch.state, is_caller=ch.stage is not None))


class PbxExecutor(AmiExecutor):
    """The executor of one PBX: an offer made while its AMI is down waits for the login (a few action
    timeouts) instead of failing at once. Failing at once made the ACD offer the call again at once, to
    fail again: a busy loop (thousands of failed offers a second, each logged) on the one event loop that
    routes every other PBX's calls too."""

    async def _offer(self, offer: OfferCall) -> None:
        if not self.ami.stats.connected:
            with contextlib.suppress(TimeoutError, AmiNotConnected):
                async with asyncio.timeout(self.action_timeout * 4):
                    await self.ami.wait_connected()
        await super()._offer(offer)


class PbxLink:
    """One Asterisk server: its AMI client, FastAGI listener, resync and executor."""

    def __init__(self, pbx: PbxConfig, names: PbxNames, *, flow: CallFlow, stats: DaemonStats,
                 now: Callable[[], datetime], endpoints: dict[str, str], in_store: Callable[[str], bool],
                 on_message: Callable[[Message, float], None],
                 agi_handler: Callable[[AgiSession], Awaitable[None]]) -> None:
        self.name, self.prefix = pbx.name, names.prefix(pbx.name)
        self.names, self.on_message, self.agi_handler = names, on_message, agi_handler
        ami = pbx.ami
        self.ami = AmiClient(ami.host, ami.port, ami.username, ami.secret.get_secret_value(),
                             on_event=self._on_event, action_timeout=ami.action_timeout,
                             ping_interval=ami.ping_interval, on_login=self._on_login,
                             ssl_context=ami_tls_context(ami), max_message=ami.max_message)
        agents = [a for a, p in names.agent_pbx.items() if p == self.name]
        repairs = PbxRepairs(flow, self.owns, self.prefix, agents) if names.several else flow
        self.resync = Resyncer(PrefixedAmi(self.ami, self.prefix), repairs, clock=now, cdr=pbx.cdr,
                               endpoints=endpoints, in_store=in_store)
        self.executor = PbxExecutor(self.ami, flow, self.resync, action_timeout=ami.action_timeout,
                                    stats=stats, now=now)
        self.agi = AgiServer(pbx.agi.host, pbx.agi.port, self._agi_session, idle_timeout=pbx.agi.idle_timeout_seconds,
                             max_connections=pbx.agi.max_connections)
        #: runs the resync at each AMI login instead of ``resync.run()`` (the daemon's, for the hot standby)
        self.login_hook: Callable[[Resyncer], Awaitable[None]] | None = None

    def owns(self, call_id: str) -> bool:
        return self.names.of(call_id) == self.name

    def _on_event(self, msg: Message, received: float) -> None:
        self.on_message(prefixed(msg, self.prefix, READ_EVENTS), received)

    async def _on_login(self) -> None:
        if self.login_hook is not None:
            await self.login_hook(self.resync)
        else:
            await self.resync.run()

    async def _agi_session(self, session: AgiSession) -> None:
        if self.prefix:
            session.env = {**session.env, "agi_uniqueid": self.prefix + session.uniqueid}
        await self.agi_handler(session)


class PbxLinks:
    """Every PBX of the config, first one first (``cfg.ami`` is the first's)."""

    def __init__(self, cfg: Config, **kw: object) -> None:
        self.names = PbxNames(cfg)
        self.links = [PbxLink(p, self.names, **kw) for p in cfg.pbx_list()]  # type: ignore[arg-type]
        flow = self.first.executor.flow
        if self.names.several:
            flow.agent_of_device = self.names.device_agents(flow.endpoints)
        self._by_name = {link.name: link for link in self.links}

    @property
    def first(self) -> PbxLink:
        return self.links[0]

    def link_of(self, call_id: str) -> PbxLink:
        return self._by_name[self.names.of(call_id)]

    def restore(self, journal: OpenCallJournal) -> list[CallRecordData]:
        """Read the open-call journal at start (``Resyncer.restore``) and hand each PBX's resync the calls
        on that PBX: the first login of PBX A must not close B's calls as gone from A."""
        first = self.first.resync
        resubmit = first.restore(journal)
        for link in self.links[1:]:
            mine = {cid: e for cid, e in first.restored.items() if link.owns(cid)}
            link.resync.restored = mine
            link.resync.blind_since = first.blind_since
            for cid in mine:
                del first.restored[cid]
        return resubmit

    def send(self, cmd: Outgoing) -> None:
        """A command goes to the executor of the PBX its call is on."""
        self.link_of(cmd.call_id).executor.submit(cmd)

    def all_connected(self) -> bool:
        return all(link.ami.stats.connected for link in self.links)

    def intake(self) -> list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]]:
        """(task name, coroutine function) of each PBX's AMI: the first keeps the old name."""
        return [(f"ami{self._tag(i)}", link.ami.run) for i, link in enumerate(self.links)]

    def fastagi(self) -> list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]]:
        """Each PBX's FastAGI listener (the leader's alone, with a hot standby)."""
        return [(f"fastagi{self._tag(i)}", link.agi.serve) for i, link in enumerate(self.links)]

    def _tag(self, i: int) -> str:
        return "" if i == 0 else f"-{self.links[i].name}"

    def workers(self) -> list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]]:
        return [(f"ami-offers{self._tag(i)}-{n}", link.executor.worker)
                for i, link in enumerate(self.links) for n in range(AMI_WORKERS)]
