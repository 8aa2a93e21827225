"""Channels, bridges and the AMI events they produce, header for header as Asterisk 22 sends them.

Header names and order follow the recordings in shared/ami-transcripts (b1, c1, d1, d2, e1).
The lab used Local channels; the simulator uses PJSIP-like channels (``PJSIP/trunk-00000001`` for
the citizen, ``PJSIP/1001-00000002`` for an agent phone) and therefore never sends the Local-only
``LocalBridge`` event nor the second (;2) half of each channel.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

Headers = list[tuple[str, str]]

STATE_DOWN, STATE_RING, STATE_RINGING, STATE_UP, STATE_BUSY = 0, 4, 5, 6, 7
STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up", 7: "Busy"}
CAUSE_TXT = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    19: "No user responding",
    34: "Circuit/channel congestion",
}


@dataclass(eq=False)
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    priority: int = 1
    state: int = STATE_DOWN
    cid_num: str = ""
    cid_name: str = ""
    conn_num: str = ""
    conn_name: str = ""
    language: str = "en"
    accountcode: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    app: str = ""
    appdata: str = ""
    bridge: Bridge | None = None
    #: simulated second at which the channel was created / answered (for Cdr, Status, CoreShowChannels)
    created_at: float = 0.0
    answered_at: float | None = None
    hungup: bool = False

    def getvar(self, name: str) -> str:
        # Inheritable variables are stored with their underscores, read without them.
        for key in (name, "_" + name, "__" + name):
            if key in self.variables:
                return self.variables[key]
        return ""

    @property
    def tech_peer(self) -> str:
        """``PJSIP/1001-00000002`` -> ``PJSIP/1001`` (the device)."""
        return self.name.rsplit("-", 1)[0]


@dataclass(eq=False)
class Bridge:
    uniqueid: str
    channels: list[Channel] = field(default_factory=list)


def _or_unknown(value: str) -> str:
    return value if value else "<unknown>"


def snapshot(ch: Channel, prefix: str = "") -> Headers:
    """The channel block every channel event carries (Channel ... Linkedid)."""
    return [
        (prefix + "Channel", ch.name),
        (prefix + "ChannelState", str(ch.state)),
        (prefix + "ChannelStateDesc", STATE_DESC.get(ch.state, "Unknown")),
        (prefix + "CallerIDNum", _or_unknown(ch.cid_num)),
        (prefix + "CallerIDName", _or_unknown(ch.cid_name)),
        (prefix + "ConnectedLineNum", _or_unknown(ch.conn_num)),
        (prefix + "ConnectedLineName", _or_unknown(ch.conn_name)),
        (prefix + "Language", ch.language),
        (prefix + "AccountCode", ch.accountcode),
        (prefix + "Context", ch.context),
        (prefix + "Exten", ch.exten),
        (prefix + "Priority", str(ch.priority)),
        (prefix + "Uniqueid", ch.uniqueid),
        (prefix + "Linkedid", ch.linkedid),
    ]


def bridge_block(br: Bridge) -> Headers:
    return [
        ("BridgeUniqueid", br.uniqueid),
        ("BridgeType", "basic"),
        ("BridgeTechnology", "simple_bridge"),
        ("BridgeCreator", "<unknown>"),
        ("BridgeName", "<unknown>"),
        ("BridgeNumChannels", str(len(br.channels))),
        ("BridgeVideoSourceMode", "none"),
    ]


def event(name: str, privilege: str, *blocks: Iterable[tuple[str, str]]) -> Headers:
    out: Headers = [("Event", name), ("Privilege", privilege + ",all")]
    for block in blocks:
        out.extend(block)
    return out


def chan_event(name: str, privilege: str, ch: Channel, extra: Iterable[tuple[str, str]] = ()) -> Headers:
    return event(name, privilege, snapshot(ch), extra)


# ---- one builder per event the simulator emits (names as in the recordings)


def newchannel(ch: Channel) -> Headers:
    return chan_event("Newchannel", "call", ch)


def newstate(ch: Channel) -> Headers:
    return chan_event("Newstate", "call", ch)


def newexten(ch: Channel, app: str, data: str) -> Headers:
    return chan_event(
        "Newexten", "dialplan", ch, [("Extension", ch.exten), ("Application", app), ("AppData", data)]
    )


def varset(ch: Channel, name: str, value: str) -> Headers:
    return chan_event("VarSet", "dialplan", ch, [("Variable", name), ("Value", value)])


def newcallerid(ch: Channel) -> Headers:
    return chan_event(
        "NewCallerid", "call", ch, [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")]
    )


def newconnectedline(ch: Channel) -> Headers:
    return chan_event("NewConnectedLine", "call", ch)


def agi_exec_start(ch: Channel, command_id: str, command: str) -> Headers:
    return chan_event("AGIExecStart", "agi", ch, [("CommandId", command_id), ("Command", command)])


def agi_exec_end(ch: Channel, command_id: str, command: str, code: int, result: str) -> Headers:
    return chan_event(
        "AGIExecEnd",
        "agi",
        ch,
        [("CommandId", command_id), ("Command", command), ("ResultCode", str(code)), ("Result", result)],
    )


def dtmf_begin(ch: Channel, digit: str) -> Headers:
    return chan_event("DTMFBegin", "dtmf", ch, [("Digit", digit), ("Direction", "Received")])


def dtmf_end(ch: Channel, digit: str, duration_ms: int = 100) -> Headers:
    return chan_event(
        "DTMFEnd", "dtmf", ch, [("Digit", digit), ("DurationMs", str(duration_ms)), ("Direction", "Received")]
    )


def user_event(ch: Channel, name: str, fields: Iterable[tuple[str, str]]) -> Headers:
    return chan_event("UserEvent", "user", ch, [("UserEvent", name), *fields])


def moh_start(ch: Channel, klass: str = "default") -> Headers:
    return chan_event("MusicOnHoldStart", "call", ch, [("Class", klass)])


def moh_stop(ch: Channel) -> Headers:
    return chan_event("MusicOnHoldStop", "call", ch)


def dial_begin(caller: Channel, dest: Channel, dialstring: str) -> Headers:
    return event("DialBegin", "call", snapshot(caller), snapshot(dest, "Dest"), [("DialString", dialstring)])


def dial_state(caller: Channel, dest: Channel, status: str) -> Headers:
    return event("DialState", "call", snapshot(caller), snapshot(dest, "Dest"), [("DialStatus", status)])


def dial_end(caller: Channel, dest: Channel, status: str) -> Headers:
    return event("DialEnd", "call", snapshot(caller), snapshot(dest, "Dest"), [("DialStatus", status)])


def bridge_create(br: Bridge) -> Headers:
    return event("BridgeCreate", "call", bridge_block(br))


def bridge_destroy(br: Bridge) -> Headers:
    return event("BridgeDestroy", "call", bridge_block(br))


def bridge_enter(br: Bridge, ch: Channel) -> Headers:
    return event("BridgeEnter", "call", bridge_block(br), snapshot(ch))


def bridge_leave(br: Bridge, ch: Channel) -> Headers:
    return event("BridgeLeave", "call", bridge_block(br), snapshot(ch))


def hold(ch: Channel, klass: str = "default") -> Headers:
    return chan_event("Hold", "call", ch, [("MusicClass", klass)])


def unhold(ch: Channel) -> Headers:
    return chan_event("Unhold", "call", ch)


def blind_transfer(transferer: Channel, transferee: Channel, br: Bridge, context: str, exten: str) -> Headers:
    """As Asterisk 22 publishes it (docs: AMI_Events/BlindTransfer); an AMI-requested transfer is external."""
    return event(
        "BlindTransfer", "call", [("Result", "Success")], snapshot(transferer, "Transferer"),
        snapshot(transferee, "Transferee"), bridge_block(br),
        [("IsExternal", "Yes"), ("Context", context), ("Extension", exten)],
    )


def attended_transfer(transferer: Channel, transferee: Channel, br: Bridge, second: Channel,
                      target: Channel) -> Headers:
    """AttendedTransfer (docs: AMI_Events/AttendedTransfer) when the transferer's consultation call
    (``second``, talking to ``target``, not in a bridge of its own here) is joined to the transferee's bridge."""
    return event(
        "AttendedTransfer", "call", [("Result", "Success")], snapshot(transferer, "OrigTransferer"),
        [(k.replace("Bridge", "OrigBridge", 1), v) for k, v in bridge_block(br)],
        snapshot(second, "SecondTransferer"), [("DestType", "Bridge"), ("DestBridgeUniqueid", br.uniqueid)],
        snapshot(transferee, "Transferee"), snapshot(target, "TransferTarget"), [("IsExternal", "No")],
    )


def parked_call(parkee: Channel, parker_dial: str, space: int, timeout: int, name: str = "ParkedCall",
                duration: int = 0) -> Headers:
    return event(
        name, "call", snapshot(parkee, "Parkee"),
        [("ParkerDialString", parker_dial), ("Parkinglot", "default"), ("ParkingSpace", str(space)),
         ("ParkingTimeout", str(timeout)), ("ParkingDuration", str(duration))],
    )


def soft_hangup_request(ch: Channel, cause: int) -> Headers:
    return chan_event("SoftHangupRequest", "call", ch, [("Cause", str(cause))])


def hangup_request(ch: Channel, cause: int) -> Headers:
    return chan_event("HangupRequest", "call", ch, [("Cause", str(cause))])


def hangup(ch: Channel, cause: int) -> Headers:
    return chan_event(
        "Hangup", "call", ch, [("Cause", str(cause)), ("Cause-txt", CAUSE_TXT.get(cause, "Unknown"))]
    )


def originate_response(
    action_id: str | None,
    ok: bool,
    channel: str,
    context: str,
    exten: str,
    reason: int,
    uniqueid: str,
    cid_num: str,
    cid_name: str,
) -> Headers:
    out: Headers = [("Event", "OriginateResponse"), ("Privilege", "call,all")]
    if action_id is not None:
        out.append(("ActionID", action_id))
    out += [
        ("Response", "Success" if ok else "Failure"),
        ("Channel", channel),
        ("Context", context),
        ("Exten", exten),
        ("Reason", str(reason)),
        ("Uniqueid", uniqueid),
        ("CallerIDNum", _or_unknown(cid_num)),
        ("CallerIDName", _or_unknown(cid_name)),
    ]
    return out


def cdr(
    *,
    source: str,
    destination: str,
    dcontext: str,
    callerid: str,
    channel: str,
    dchannel: str,
    lastapp: str,
    lastdata: str,
    start: str,
    answer: str,
    end: str,
    duration: int,
    billsec: int,
    disposition: str,
    uniqueid: str,
) -> Headers:
    return [
        ("Event", "Cdr"),
        ("Privilege", "cdr,all"),
        ("AccountCode", ""),
        ("Source", source),
        ("Destination", destination),
        ("DestinationContext", dcontext),
        ("CallerID", callerid),
        ("Channel", channel),
        ("DestinationChannel", dchannel),
        ("LastApplication", lastapp),
        ("LastData", lastdata),
        ("StartTime", start),
        ("AnswerTime", answer),
        ("EndTime", end),
        ("Duration", str(duration)),
        ("BillableSeconds", str(billsec)),
        ("Disposition", disposition),
        ("AMAFlags", "DOCUMENTATION"),
        ("UniqueID", uniqueid),
        ("UserField", ""),
    ]


def cel(ch: Channel, name: str, event_time: str, app: str = "", data: str = "", extra: str = "") -> Headers:
    return [
        ("Event", "CEL"),
        ("Privilege", "call,all"),
        ("EventName", name),
        ("AccountCode", ch.accountcode),
        ("CallerIDnum", ch.cid_num),
        ("CallerIDname", ch.cid_name),
        ("CallerIDani", ch.cid_num),
        ("CallerIDrdnis", ""),
        ("CallerIDdnid", ""),
        ("Exten", ch.exten),
        ("Context", ch.context),
        ("Channel", ch.name),
        ("Application", app),
        ("AppData", data),
        ("EventTime", event_time),
        ("AMAFlags", "DOCUMENTATION"),
        ("UniqueID", ch.uniqueid),
        ("LinkedID", ch.linkedid),
        ("Userfield", ""),
        ("Peer", ""),
        ("PeerAccount", ""),
        ("Extra", extra),
    ]
