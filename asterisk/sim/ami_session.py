"""One AMI client connection of the simulator's server: its login, write permissions, event filters and the
bytes waiting to be sent (a client that stops reading is dropped, as Asterisk does).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime

from asterisk.sim.config import AmiUser

log = logging.getLogger("asterisk.sim.ami_server")  # the server's log name, as before this module was split off

#: a client that does not read its events is dropped beyond this many unsent bytes
MAX_BUFFERED = 16 * 1024 * 1024

#: write permission an action needs (any one of), as in Asterisk 22's manager.c registrations.
ACTION_PERMS: dict[str, frozenset[str]] = {
    "login": frozenset(),
    "logoff": frozenset(),
    "challenge": frozenset(),
    "ping": frozenset(),
    "originate": frozenset({"originate"}),
    "redirect": frozenset({"call"}),
    "hangup": frozenset({"system", "call"}),
    "setvar": frozenset({"call"}),
    "getvar": frozenset({"call", "reporting"}),
    "coreshowchannels": frozenset({"system", "reporting"}),
    "devicestatelist": frozenset({"call", "reporting"}),
    "status": frozenset({"system", "call", "reporting"}),
    "userevent": frozenset({"user"}),
    "command": frozenset({"command"}),
    "corestatus": frozenset({"system", "reporting"}),
    "queuepause": frozenset({"agent"}),
    "blindtransfer": frozenset({"call"}),
    "atxfer": frozenset({"call"}),
    "park": frozenset({"call"}),
}


def event_classes(privilege: str) -> frozenset[str]:
    return frozenset(p for p in privilege.split(",") if p and p != "all")


@dataclass(eq=False)
class Session:
    writer: asyncio.StreamWriter
    session_id: str
    local: str
    remote: str
    started: datetime
    user: AmiUser | None = None
    #: None = every class (Events: on); empty = no events (Events: off)
    event_mask: frozenset[str] | None = None
    filters: list[tuple[bool, re.Pattern[str]]] = field(default_factory=list)
    closed: bool = False

    @property
    def read(self) -> frozenset[str]:
        return frozenset(self.user.read) if self.user else frozenset()

    def may_write(self, action: str) -> bool:
        need = ACTION_PERMS.get(action, frozenset())
        if not need:
            return True
        have = frozenset(self.user.write) if self.user else frozenset()
        return "all" in have or bool(need & have)

    def wants(self, classes: frozenset[str], text: str) -> bool:
        if self.user is None or self.closed:
            return False
        read = self.read
        if "all" not in read and not classes & read:
            return False
        if self.event_mask is not None and not classes & self.event_mask:
            return False
        if self.filters:
            keep = [p for neg, p in self.filters if not neg]
            if keep and not any(p.search(text) for p in keep):
                return False
            if any(p.search(text) for neg, p in self.filters if neg):
                return False
        return True

    def send(self, data: bytes) -> None:
        if self.closed or self.writer.is_closing():
            return
        transport = self.writer.transport
        if transport.get_write_buffer_size() > MAX_BUFFERED:
            log.warning("AMI session %s does not read its events; closing it", self.session_id)
            self.closed = True
            self.writer.close()
            return
        self.writer.write(data)


def events_mask(value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    v = value.strip().lower()
    if v in ("on", "yes", "true", "all", "1"):
        return None
    if v in ("off", "no", "false", "0", ""):
        return frozenset()
    return frozenset(p.strip() for p in v.split(",") if p.strip())


def compile_filter(line: str) -> tuple[bool, re.Pattern[str]]:
    negate = line.startswith("!")
    return negate, re.compile(line[1:] if negate else line)
