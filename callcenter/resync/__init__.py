"""Resync after an AMI reconnect, an Asterisk restart or a daemon restart: nothing lost, duplicated or stuck.

Events sent while the daemon was not listening are lost for good, so after every AMI login the
daemon compares what it believes with what Asterisk has (``CoreShowChannels`` + ``Getvar`` of the
dialplan's ``CC_*`` variables on each caller channel) and repairs the difference:

- a call the daemon holds open that Asterisk no longer has is closed with a record now (outcome
  from its last known state, ``ended_at`` = the resync, ``hangup_cause`` = None marks such records);
- a caller on hold the daemon does not know (it restarted) joins the queue at its ORIGINAL place
  (``CC_ENTERED``, set by the dialplan to ``${EPOCH}``, becomes ``CallQueued.entered_at``);
- a caller ringing or talking to an agent (``CC_AGENT``) is tracked as offered / answered by that agent;
- a known call whose stage moved while the daemon was deaf (CcHold, DialEnd, CcFallback lost) is moved on;
- with ``cdr.master_csv`` configured, a gone call is closed with what Asterisk's CDRs say (answered by
  whom, or where the caller gave up), not from its last known stage; and a citizen's call that began and
  ended while the daemon was blind (so it never saw it) gets its one record from them
  (:mod:`callcenter.cdr_import`).

Three parts: plan.py is pure (the daemon's view + the channel list -> :class:`Step` list, one table of
(known stage, live stage) -> step kinds); runner.py (:class:`Resyncer`) runs the AMI actions and hands the
steps to the call flow through one narrow interface (:class:`CallRepairs`); journal.py
(:class:`OpenCallJournal`) keeps the calls in flight on disk (one JSON line per change, appended as it
happens) so that a daemon killed with ``kill -9`` knows, after its restart, which calls it had and can
account for the ones that ended while it was down. Its Prometheus counters: metrics/prom.py
(``ResyncCollector``).
"""

from callcenter.resync.journal import OpenCallJournal
from callcenter.resync.plan import (
    CALL_CONTEXTS,
    TABLE,
    VARIABLES,
    Kind,
    Known,
    KnownCall,
    Live,
    LiveChannel,
    Step,
    live_channels,
    plan,
)
from callcenter.resync.runner import CallRepairs, Resyncer, ResyncStats

__all__ = [
    "CALL_CONTEXTS", "TABLE", "VARIABLES", "CallRepairs", "Kind", "Known", "KnownCall", "Live", "LiveChannel",
    "OpenCallJournal", "ResyncStats", "Resyncer", "Step", "live_channels", "plan",
]


