"""What a standby keeps warm: the callers it saw come and go on AMI, while another node leads.

It routes nothing and records nothing. At a takeover it hands the resync the callers that hung up lately
(since shortly before the old leader's last renewal it saw), as entries like those of the open-call journal:
the resync closes each one the store does not have yet (with its CDR when ``cdr.master_csv`` is set), so a
call that ended between the old leader's death and the takeover still gets its one record. Live callers
need nothing from here: the resync adopts them from Asterisk's channel list (CoreShowChannels + CC_*).
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta

from asterisk.ami.codec import Message
from asterisk.ami.tracker import CallHungUp, CallStarted, CallTracker
from callcenter.ledger import CallEntry

#: a record the old leader wrote is in the store within this time of the hang-up (its writer's batches)
FLUSH_SLACK = timedelta(seconds=10)
#: at most this many ended callers are remembered (a bound, whatever the call rate)
MAX_ENDED = 100_000


class Witness:
    def __init__(self) -> None:
        self.tracker = CallTracker()
        self.open: dict[str, CallEntry] = {}
        self.ended: OrderedDict[str, datetime] = OrderedDict()
        self._entries: dict[str, CallEntry] = {}
        self.events = 0

    def feed(self, msg: Message, at: datetime) -> None:
        self.events += 1
        for fact in self.tracker.feed(msg, at):
            if isinstance(fact, CallStarted):
                self.open[fact.uniqueid] = CallEntry(
                    call_id=fact.uniqueid, entered_at=fact.at, linkedid=fact.linkedid, channel=fact.channel,
                    caller_number=fact.caller_number, caller_name=fact.caller_name)
            elif isinstance(fact, CallHungUp):
                entry = self.open.pop(fact.uniqueid, None)
                if entry is not None:
                    self.ended[fact.uniqueid] = fact.at
                    self._entries[fact.uniqueid] = entry
                    while len(self.ended) > MAX_ENDED:
                        old, _ = self.ended.popitem(last=False)
                        self._entries.pop(old, None)

    def ended_since(self, since: datetime | None) -> dict[str, CallEntry]:
        """Callers that hung up at or after ``since`` (all remembered ones for None)."""
        return {cid: self._entries[cid] for cid, at in self.ended.items() if since is None or at >= since}

    def forget_before(self, cutoff: datetime) -> None:
        if len(self.open) > MAX_ENDED:  # hang-ups missed while AMI was away: no caller stays a whole day
            day = cutoff - timedelta(days=1)
            for cid in [c for c, e in self.open.items() if e.entered_at < day]:
                del self.open[cid]
                self.tracker.forget(cid)
        while self.ended:
            cid, at = next(iter(self.ended.items()))
            if at >= cutoff:
                return
            self.ended.popitem(last=False)
            self._entries.pop(cid, None)
