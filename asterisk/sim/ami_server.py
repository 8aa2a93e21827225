"""The simulator's AMI server: speaks manager protocol like Asterisk 22 (banner, login, actions, events).

Replies copy the recordings byte for byte (header names, order, messages); see a1, a2, a3, b1, d1.
The server only translates: channel work is delegated to the PBX (``AmiBackend``).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
import time
from collections import deque
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from asterisk.ami.codec import AmiReader, FrameTooLarge, Message, encode
from asterisk.sim.ami_session import Session, compile_filter, event_classes, events_mask
from asterisk.sim.config import SimConfig
from asterisk.sim.model import Channel, Headers, snapshot

log = logging.getLogger(__name__)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
class ActionError(Exception):
    """An action failed; the text is the ``Message:`` Asterisk sends."""


class AmiBackend(Protocol):
    def now(self) -> datetime: ...
    def uptime(self) -> int: ...
    def setvar(self, channel: str, name: str, value: str) -> None: ...
    def getvar(self, channel: str, name: str) -> str: ...
    def redirect(self, channel: str, context: str, exten: str, priority: int) -> None: ...
    def hangup(self, channel: str, cause: int) -> None: ...
    def originate(self, msg: Message, action_id: str | None) -> None: ...
    def blind_transfer(self, channel: str, context: str, exten: str) -> None: ...
    def atxfer(self, channel: str, context: str, exten: str) -> bool: ...
    def park(self, channel: str, timeout_channel: str, timeout_s: float) -> None: ...
    def channels_list(self) -> list[Channel]: ...
    def device_states(self) -> dict[str, str]: ...
    def channel_info(self, ch: Channel) -> tuple[str, str, str, int]:
        """(bridge id, application, application data, seconds since creation)"""
        ...


def _tv(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


def _transfer_target(msg: Message) -> tuple[str, str]:
    """Channel and Exten of BlindTransfer / Atxfer, refused as main/manager.c refuses them."""
    channel, exten = msg.get("Channel") or "", msg.get("Exten") or ""
    if not channel:
        raise ActionError("No channel specified")
    if not exten:
        raise ActionError("No extension specified")
    return channel, exten


class AmiServer:
    def __init__(self, config: SimConfig, backend: AmiBackend) -> None:
        self.config = config
        self.backend = backend
        self.sessions: set[Session] = set()
        self._handlers: set[asyncio.Future[None]] = set()
        self._server: asyncio.Server | None = None
        self._ids = itertools.count(0x7F16F0001280, 0x1A40)
        self.port = 0
        #: fault injection: while set, the server reads nothing and sends nothing (a hung Asterisk)
        self.frozen = False
        #: every action run, as (time.monotonic(), session id, AMI user, action): which client did what, when
        #: (tests of the hot standby's fencing check that two leaders never act in turn)
        self.action_log: deque[tuple[float, str, str, str]] = deque(maxlen=200_000)

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._client, self.config.ami_host, self.config.ami_port,
                                                  ssl=self._tls())
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def _tls(self) -> ssl.SSLContext | None:
        """manager.conf ``tlsenable=yes``: the same protocol inside TLS (Asterisk's TLS port, 5039 by custom)."""
        if self.config.ami_tls_cert is None:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.config.ami_tls_cert, self.config.ami_tls_key)
        return ctx

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for s in list(self.sessions):
            s.closed = True
            s.writer.close()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def drop_sessions(self) -> int:
        """Fault injection: close every AMI connection at once (as a crash or a network cut does)."""
        n = 0
        for s in list(self.sessions):
            s.closed = True
            transport = s.writer.transport
            transport.abort()
            n += 1
        return n

    # ---- events
    def broadcast(self, headers: Headers) -> None:
        if not self.sessions or self.frozen:
            return
        privilege = next((v for k, v in headers if k == "Privilege"), "")
        classes = event_classes(privilege)
        data = encode(headers)
        text = ""
        for s in self.sessions:
            if s.filters and not text:
                text = data.decode("utf-8", errors="replace")
            if s.wants(classes, text):
                s.send(data)

    def _security(self, name: str, s: Session, fields: Iterable[tuple[str, str]]) -> None:
        now = self.backend.now()
        self.broadcast(
            [
                ("Event", name),
                ("Privilege", "security,all"),
                ("EventTV", _tv(now)),
                *fields,
            ]
        )

    # ---- connections
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._handlers.add(done)
        sock = writer.get_extra_info("sockname") or ("127.0.0.1", 0)
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        s = Session(
            writer=writer,
            session_id=hex(next(self._ids)),
            local=f"IPV4/TCP/{sock[0]}/{sock[1]}",
            remote=f"IPV4/TCP/{peer[0]}/{peer[1]}",
            started=self.backend.now(),
        )
        self.sessions.add(s)
        try:
            writer.write(BANNER)
            await self._serve(s, reader)
        except (ConnectionError, FrameTooLarge) as exc:
            log.info("AMI session %s ended: %s", s.session_id, exc)
        finally:
            s.closed = True
            self.sessions.discard(s)
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass
            done.set_result(None)
            self._handlers.discard(done)

    async def _serve(self, s: Session, reader: asyncio.StreamReader) -> None:
        amir = AmiReader(expect_banner=False)
        while not s.closed:
            data = await reader.read(65536)
            if not data:
                return
            while self.frozen and not s.closed:  # noqa: ASYNC110  (a hung Asterisk, test-only: polling is fine)
                await asyncio.sleep(0.01)
            for msg in amir.feed(data):
                if not await self._action(s, msg):
                    return

    def _reply(
        self, s: Session, status: str, action_id: str | None, fields: Iterable[tuple[str, str]] = ()
    ) -> None:
        headers: Headers = [("Response", status)]
        if action_id is not None:
            headers.append(("ActionID", action_id))
        headers.extend(fields)
        s.send(encode(headers))

    def _error(self, s: Session, action_id: str | None, message: str) -> None:
        self._reply(s, "Error", action_id, [("Message", message)])

    def _ident(self, s: Session) -> list[tuple[str, str]]:
        return [("SessionID", s.session_id), ("LocalAddress", s.local), ("RemoteAddress", s.remote)]

    async def _action(self, s: Session, msg: Message) -> bool:
        """Handle one action; False closes the connection."""
        action_id = msg.get("ActionID")
        name = msg.get("Action")
        if not name:
            self._error(s, action_id, "Missing action in request")
            return True
        action = name.lower()
        if s.user is None and action not in ("login", "logoff", "challenge"):
            self._error(s, action_id, "Permission denied")
            return True
        if action == "login":
            return await self._login(s, msg, action_id)
        if action == "logoff":
            self._reply(s, "Goodbye", action_id, [("Message", "Thanks for all the fish.")])
            return False
        handler = getattr(self, "_do_" + action, None)
        if handler is None:
            self._error(
                s,
                action_id,
                f"Invalid/unknown command: {name}. Use Action: ListCommands to show available commands.",
            )
            self._security(
                "RequestBadFormat",
                s,
                [
                    ("Severity", "Error"),
                    ("Service", "AMI"),
                    ("EventVersion", "1"),
                    *self._ident(s),
                    ("RequestType", f"Action: {name}"),
                    ("SessionTV", _tv(s.started)),
                    ("AccountID", s.user.username if s.user else ""),
                ],
            )
            return True
        if not s.may_write(action):
            self._error(s, action_id, "Permission denied")
            self._security(
                "RequestNotAllowed",
                s,
                [
                    ("Severity", "Error"),
                    ("Service", "AMI"),
                    ("EventVersion", "1"),
                    ("AccountID", s.user.username if s.user else ""),
                    *self._ident(s),
                    ("RequestType", f"Action: {name}"),
                    ("SessionTV", _tv(s.started)),
                ],
            )
            return True
        self.action_log.append((time.monotonic(), s.session_id, s.user.username if s.user else "", name))
        try:
            handler(s, msg, action_id)
        except ActionError as exc:
            self._error(s, action_id, str(exc))
        return True

    async def _login(self, s: Session, msg: Message, action_id: str | None) -> bool:
        if s.user is not None:
            self._reply(s, "Success", action_id, [("Message", "Already authenticated")])
            return True
        username = msg.get("Username", "") or ""
        secret = msg.get("Secret", "") or ""
        user = next((u for u in self.config.users if u.username == username), None)
        if user is None or user.secret.get_secret_value() != secret:
            # Asterisk answers a failed login about a second later, then hangs up.
            delay = max(0.05, self.config.login_failure_delay / self.config.speed)
            await asyncio.sleep(delay)
            self._error(s, action_id, "Authentication failed")
            return False
        s.user = user
        s.event_mask = events_mask(msg.get("Events"))
        s.filters = [compile_filter(f) for f in user.eventfilter]
        self._reply(s, "Success", action_id, [("Message", "Authentication accepted")])
        if s.wants(frozenset({"system"}), "Event: FullyBooted"):
            up = str(self.backend.uptime())
            s.send(
                encode(
                    [
                        ("Event", "FullyBooted"),
                        ("Privilege", "system,all"),
                        ("Uptime", up),
                        ("LastReload", up),
                        ("Status", "Fully Booted"),
                    ]
                )
            )
        self._security(
            "SuccessfulAuth",
            s,
            [
                ("Severity", "Informational"),
                ("Service", "AMI"),
                ("EventVersion", "1"),
                ("AccountID", user.username),
                *self._ident(s),
                ("UsingPassword", "0"),
                ("SessionTV", _tv(s.started)),
            ],
        )
        return True

    # ---- actions (Asterisk 22 wording)
    def _do_ping(self, s: Session, msg: Message, aid: str | None) -> None:
        ts = self.backend.now().timestamp()
        self._reply(s, "Success", aid, [("Ping", "Pong"), ("Timestamp", f"{ts:.6f}")])

    def _do_challenge(self, s: Session, msg: Message, aid: str | None) -> None:
        raise ActionError("Must specify AuthType")

    def _do_setvar(self, s: Session, msg: Message, aid: str | None) -> None:
        name = msg.get("Variable") or ""
        if not name:
            raise ActionError("No variable specified")
        channel = msg.get("Channel") or ""
        try:
            self.backend.setvar(channel, name, msg.get("Value") or "")
        except LookupError:
            raise ActionError("No such channel") from None
        self._reply(s, "Success", aid, [("Message", "Variable Set")])

    def _do_getvar(self, s: Session, msg: Message, aid: str | None) -> None:
        name = msg.get("Variable") or ""
        if not name:
            raise ActionError("No variable specified")
        try:
            value = self.backend.getvar(msg.get("Channel") or "", name)
        except LookupError:
            raise ActionError("No such channel") from None
        self._reply(s, "Success", aid, [("Variable", name), ("Value", value)])

    def _do_redirect(self, s: Session, msg: Message, aid: str | None) -> None:
        channel, context = msg.get("Channel") or "", msg.get("Context") or ""
        exten, priority = msg.get("Exten") or "", msg.get("Priority") or ""
        if not channel:
            raise ActionError("Channel not specified")
        if not context:
            raise ActionError("Context not specified")
        if not exten:
            raise ActionError("Exten not specified")
        if not priority:
            raise ActionError("Priority not specified")
        try:
            pri = int(priority)
        except ValueError:
            pri = 0
        if pri < 1:
            raise ActionError("Priority is invalid")
        try:
            self.backend.redirect(channel, context, exten, pri)
        except LookupError:
            raise ActionError(f"Channel does not exist: {channel}") from None
        except ValueError:
            raise ActionError("Redirect failed") from None
        self._reply(s, "Success", aid, [("Message", "Redirect successful")])

    def _do_hangup(self, s: Session, msg: Message, aid: str | None) -> None:
        channel = msg.get("Channel") or ""
        if not channel:
            raise ActionError("No channel specified")
        try:
            cause = int(msg.get("Cause") or "16")
        except ValueError:
            cause = 16
        try:
            self.backend.hangup(channel, cause)
        except LookupError:
            raise ActionError("No such channel") from None
        self._reply(s, "Success", aid, [("Message", "Channel Hungup")])

    def _do_originate(self, s: Session, msg: Message, aid: str | None) -> None:
        if not msg.get("Channel"):
            raise ActionError("Channel not specified")
        if msg.get("Application") is None and not msg.get("Context"):
            raise ActionError("Context not specified")
        self._reply(s, "Success", aid, [("Message", "Originate successfully queued")])
        self.backend.originate(msg, aid)

    # Call control; wording of main/manager.c (BlindTransfer, Atxfer) and res/parking/parking_manager.c (Park).
    def _do_blindtransfer(self, s: Session, msg: Message, aid: str | None) -> None:
        channel, exten = _transfer_target(msg)
        try:
            self.backend.blind_transfer(channel, msg.get("Context") or "", exten)
        except LookupError:
            raise ActionError("Channel specified does not exist") from None
        except ValueError:
            raise ActionError("Transfer invalid") from None  # AST_BRIDGE_TRANSFER_INVALID: not bridged
        self._reply(s, "Success", aid, [("Message", "Transfer succeeded")])

    def _do_atxfer(self, s: Session, msg: Message, aid: str | None) -> None:
        channel, exten = _transfer_target(msg)
        try:
            # Asterisk only queues the atxfer feature code and the digits: it acknowledges either way.
            self.backend.atxfer(channel, msg.get("Context") or "", exten)
        except LookupError:
            raise ActionError("Channel specified does not exist") from None
        self._reply(s, "Success", aid, [("Message", "Atxfer successfully queued")])

    def _do_park(self, s: Session, msg: Message, aid: str | None) -> None:
        channel = msg.get("Channel") or ""
        if not channel:
            raise ActionError("Channel not specified")
        timeout_channel = msg.get("TimeoutChannel") or msg.get("Channel2") or ""
        try:
            timeout_ms = int(msg.get("Timeout") or "45000")  # res_parking.conf parkingtime default: 45 s
        except ValueError:
            raise ActionError("Invalid Timeout value.") from None
        if timeout_ms < 0:
            raise ActionError("Timeout can not be a negative number.")
        try:
            self.backend.park(channel, timeout_channel, timeout_ms / 1000)
        except LookupError:
            raise ActionError(f"Channel does not exist: {channel}") from None
        except ValueError:
            raise ActionError("Park action failed") from None
        self._reply(s, "Success", aid, [("Message", "Park successful")])

    def _do_userevent(self, s: Session, msg: Message, aid: str | None) -> None:
        name = msg.get("UserEvent") or ""
        if not name:
            raise ActionError("Missing UserEvent")
        body = [(k, v) for k, v in msg.headers if k.lower() not in ("action", "actionid", "userevent")]
        self._reply(s, "Success", aid, [("Message", "Event Sent")])
        self.broadcast([("Event", "UserEvent"), ("Privilege", "user,all"), ("UserEvent", name), *body])

    def _do_coreshowchannels(self, s: Session, msg: Message, aid: str | None) -> None:
        chans = self.backend.channels_list()
        self._reply(s, "Success", aid, [("EventList", "start"), ("Message", "Channels will follow")])
        for ch in chans:
            bridge_id, app, data, secs = self.backend.channel_info(ch)
            item: Headers = [("Event", "CoreShowChannel")]
            if aid is not None:
                item.append(("ActionID", aid))
            item += snapshot(ch)
            item += [
                ("BridgeId", bridge_id),
                ("Application", app),
                ("ApplicationData", data),
                ("Duration", f"{secs // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}"),
            ]
            s.send(encode(item))
        self._complete(s, "CoreShowChannelsComplete", aid, len(chans))

    def _do_devicestatelist(self, s: Session, msg: Message, aid: str | None) -> None:
        """res_manager_devicestate: one DeviceStateChange per device the PBX knows, then the Complete."""
        states = self.backend.device_states()
        self._reply(s, "Success", aid, [("EventList", "start"), ("Message", "Device State Changes will follow")])
        for device, state in states.items():
            item: Headers = [("Event", "DeviceStateChange")]
            if aid is not None:
                item.append(("ActionID", aid))
            item += [("Device", device), ("State", state)]
            s.send(encode(item))
        self._complete(s, "DeviceStateListComplete", aid, len(states))

    def _do_status(self, s: Session, msg: Message, aid: str | None) -> None:
        wanted = msg.get("Channel") or ""
        chans = self.backend.channels_list()
        if wanted:
            chans = [c for c in chans if c.name == wanted]
            if not chans:
                raise ActionError("No such channel")
        self._reply(s, "Success", aid, [("EventList", "start"), ("Message", "Channel status will follow")])
        for ch in chans:
            bridge_id, app, data, secs = self.backend.channel_info(ch)
            item: Headers = [("Event", "Status"), ("Privilege", "Call")]
            item += snapshot(ch)
            item += [
                ("Type", ch.name.split("/", 1)[0]),
                ("DNID", ""),
                ("EffectiveConnectedLineNum", ch.conn_num or "<unknown>"),
                ("EffectiveConnectedLineName", ch.conn_name or "<unknown>"),
                ("TimeToHangup", "0"),
                ("BridgeID", bridge_id),
                ("Application", app),
                ("Data", data),
                ("Nativeformats", "(ulaw)"),
                ("Readformat", "ulaw"),
                ("Readtrans", ""),
                ("Writeformat", "ulaw"),
                ("Writetrans", ""),
                ("Callgroup", "0"),
                ("Pickupgroup", "0"),
                ("Seconds", str(secs)),
            ]
            if aid is not None:
                item.append(("ActionID", aid))
            s.send(encode(item))
        self._complete(s, "StatusComplete", aid, len(chans), items=True)

    def _do_corestatus(self, s: Session, msg: Message, aid: str | None) -> None:
        now = self.backend.now()
        chans = self.backend.channels_list()
        self._reply(
            s,
            "Success",
            aid,
            [
                ("CoreStartupDate", now.strftime("%Y-%m-%d")),
                ("CoreStartupTime", now.strftime("%H:%M:%S")),
                ("CoreReloadDate", now.strftime("%Y-%m-%d")),
                ("CoreReloadTime", now.strftime("%H:%M:%S")),
                (
                    "CoreCurrentCalls",
                    str(sum(1 for c in chans if c.name.split("/", 1)[1].startswith(self.config.trunk))),
                ),
                ("CoreProcessedCalls", "0"),
            ],
        )

    def _do_command(self, s: Session, msg: Message, aid: str | None) -> None:
        command = msg.get("Command") or ""
        if command.strip() == "core show version":
            self._reply(
                s,
                "Success",
                aid,
                [
                    ("Message", "Command output follows"),
                    ("Output", "Asterisk 22.10.1 (callcenter PBX simulator)"),
                ],
            )
            return
        self._reply(
            s,
            "Error",
            aid,
            [("Message", "Command output follows"), ("Output", f"No such command '{command}'")],
        )

    def _do_queuepause(self, s: Session, msg: Message, aid: str | None) -> None:
        raise ActionError("Interface not found")

    def _complete(self, s: Session, name: str, aid: str | None, n: int, *, items: bool = False) -> None:
        done: Headers = [("Event", name)]
        if aid is not None:
            done.append(("ActionID", aid))
        done += [("EventList", "Complete"), ("ListItems", str(n))]
        if items:
            done.append(("Items", str(n)))
        s.send(encode(done))
