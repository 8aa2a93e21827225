"""The sans-IO IVR interpreter: events in, commands out. No clock, no I/O.

Contract with whoever runs it (the AGI adapter, the Twilio webhook, the simulator, a test):

- ``start()`` and ``handle(event)`` return a list of commands, to be carried out in order.
- Only the LAST command of a list waits for an answer: after ``Play`` send ``Played``; after
  ``Collect`` send ``Digits`` (what the caller typed, possibly cut short by the timeout) or ``Timeout``
  (nothing typed); after ``Record`` send ``Recorded``. A ``Play`` before the last command is simply
  played to its end.
- ``Enqueue``, ``Transfer`` and ``HangupCall`` end the run (``run.done``); ``Hangup`` may come as an
  event at any time (the caller hung up) and also ends it, as abandoned.
- Before the end the run emits ``SetVar`` for CC_QUEUE (enqueue only), CC_IVR_PATH and CC_LANG, and for
  the call data learnt on the way (CC_TOPIC, CC_CALLBACK, CC_DATA_<NAME>), so the dialplan, the agent's
  screen-pop and the call record see the outcome. A transfer sets them inheritable (``__CC_...``) so
  the outside line's channel carries them.
- Time comes on the events; a time-of-day branch reads the ``at`` of the event that led to it, in the
  run's time zone, with the run's holiday calendar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from types import MappingProxyType
from typing import Any, Protocol

from ivr.digits import check_entry
from ivr.model import (
    DTMF_KEYS,
    WEEKDAYS,
    CallbackNode,
    CollectNode,
    EnqueueNode,
    HangupNode,
    LanguageNode,
    Menu,
    MenuNode,
    MessageNode,
    Node,
    PlayNode,
    RateNode,
    SetNode,
    TimeNode,
    TimeRule,
    TransferNode,
)


class IvrError(Exception):
    """The run was driven wrongly (an event it did not wait for) or the menu is broken at run time."""


class DayCalendar(Protocol):
    """Which days are working days (agents/shifts.py ``Calendar`` is one: Chinese holidays and 调休)."""

    def is_workday(self, day: date) -> bool: ...


class WeekendCalendar:
    """Monday to Friday are working days; no holidays. The default when no calendar is given."""

    def is_workday(self, day: date) -> bool:
        return day.weekday() < 5


def _check_at(at: datetime) -> None:
    if at.tzinfo is None:
        raise ValueError("event time must be timezone-aware")


# --- events (from the caller's side) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Digits:
    digits: str
    at: datetime

    def __post_init__(self) -> None:
        _check_at(self.at)
        if not self.digits or not set(self.digits) <= DTMF_KEYS:
            raise ValueError(f"digits must be non-empty DTMF keys, got {self.digits!r}")


@dataclass(frozen=True, slots=True)
class Timeout:
    at: datetime

    def __post_init__(self) -> None:
        _check_at(self.at)


@dataclass(frozen=True, slots=True)
class Hangup:
    at: datetime

    def __post_init__(self) -> None:
        _check_at(self.at)


@dataclass(frozen=True, slots=True)
class Played:
    at: datetime

    def __post_init__(self) -> None:
        _check_at(self.at)


@dataclass(frozen=True, slots=True)
class Recorded:
    """The caller's message was recorded (``#``, silence or the time limit ended it)."""

    at: datetime

    def __post_init__(self) -> None:
        _check_at(self.at)


IvrEvent = Digits | Timeout | Hangup | Played | Recorded


# --- commands (to the channel) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Play:
    file: str


@dataclass(frozen=True, slots=True)
class Collect:
    file: str
    timeout_ms: int
    max_digits: int


@dataclass(frozen=True, slots=True)
class SetVar:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class Record:
    """Record the caller's message (up to ``max_seconds``; ``#`` ends it)."""

    max_seconds: int


@dataclass(frozen=True, slots=True)
class CallData:
    """What the IVR learnt about the call, handed to the ACD with the enqueue."""

    queue: str | None = None
    priority: int = 0
    skills: Any = field(default_factory=lambda: MappingProxyType({}))
    topic: str | None = None
    language: str = "zh"
    vars: Any = field(default_factory=lambda: MappingProxyType({}))  # collected / set call data
    callback: bool = False
    callback_number: str | None = None
    satisfaction: int | None = None
    message: bool = False  # the caller left a message


@dataclass(frozen=True, slots=True)
class Enqueue:
    queue: str
    data: CallData


@dataclass(frozen=True, slots=True)
class HangupCall:
    """Hang the call up (the IVR ended it, e.g. a closed-hours message)."""


@dataclass(frozen=True, slots=True)
class Transfer:
    """Hand the call to an outside number (e.g. 110); the call data went before as SetVar."""

    number: str
    data: CallData


IvrCommand = Play | Collect | SetVar | Enqueue | HangupCall | Transfer | Record


@dataclass(frozen=True, slots=True)
class IvrStep:
    """One step of the caller's path: a node played or a menu answered (digits, 'timeout', 'hangup')."""

    node: str
    digits: str | None
    at: datetime | None
    #: where an automatic branch went (a time-of-day node), shown as 'node=target'
    branch: str | None = None

    def text(self) -> str:
        if self.branch is not None:
            return f"{self.node}={self.branch}"
        return self.node if self.digits is None else f"{self.node}:{self.digits}"

    def as_json(self, since: datetime | None) -> list[Any]:
        """[node, digits or branch, seconds since ``since``] for the call record."""
        offset = None
        if self.at is not None and since is not None:
            offset = round((self.at - since).total_seconds(), 3)
        return [self.node, self.branch if self.branch is not None else self.digits, offset]


#: Automatic moves (set, play chains) allowed between two caller inputs; a guard, validation finds loops.
_MAX_AUTOMATIC_STEPS = 1000



#: Nodes that wait for keys, and so re-prompt on a timeout or a bad entry.
_INPUT = (MenuNode, CollectNode, LanguageNode, RateNode)
InputNode = MenuNode | CollectNode | LanguageNode | RateNode


class IvrRun:
    """One caller's walk through a menu."""

    def __init__(
        self,
        menu: Menu,
        language: str = "zh",
        *,
        tz: tzinfo = UTC,
        calendar: DayCalendar | None = None,
        caller: str = "",
    ) -> None:
        self.menu = menu
        self.language = language
        self.tz = tz
        self.calendar: DayCalendar = calendar or WeekendCalendar()
        self.caller = caller
        self.queue: str | None = None
        self.priority = 0
        self.skills: dict[str, int] = {}
        self.topic: str | None = None
        self.vars: dict[str, str] = {}
        self.callback = False
        self.callback_number: str | None = None
        self.satisfaction: int | None = None
        self.message = False
        self.transfer_to: str | None = None
        self.steps: list[IvrStep] = []
        self.node_name: str | None = None
        self.attempts = 0  # failed entries at the current input node
        self.done = False
        self.abandoned = False
        self.started_at: datetime | None = None
        self._waiting: type | None = None  # Played, Digits or Recorded, see waiting_for
        self._started = False

    # -- public face -------------------------------------------------------------------------------

    @property
    def waiting_for(self) -> str | None:
        """'played', 'digits', 'recorded' or None (done or not started)."""
        names: dict[type | None, str] = {Played: "played", Digits: "digits", Recorded: "recorded"}
        return names.get(self._waiting)

    @property
    def data(self) -> CallData:
        return CallData(
            queue=self.queue,
            priority=self.priority,
            skills=MappingProxyType(dict(self.skills)),
            topic=self.topic,
            language=self.language,
            vars=MappingProxyType(dict(self.vars)),
            callback=self.callback,
            callback_number=self.callback_number,
            satisfaction=self.satisfaction,
            message=self.message,
        )

    def path_text(self) -> str:
        return ">".join(step.text() for step in self.steps)

    def steps_json(self) -> list[list[Any]]:
        """Every step with its time in seconds from the start of the run (for the call record)."""
        return [step.as_json(self.started_at) for step in self.steps]

    def start(self, at: datetime | None = None) -> list[IvrCommand]:
        if self._started:
            raise IvrError("run already started")
        self._started = True
        self.started_at = at
        return self._enter(self.menu.start, at)

    def handle(self, event: IvrEvent) -> list[IvrCommand]:
        if not self._started:
            raise IvrError("handle() before start()")
        if self.done:
            if isinstance(event, Hangup):
                return []  # the caller hanging up after the end is normal
            raise IvrError(f"run is over, got {type(event).__name__}")
        if isinstance(event, Hangup):
            return self._on_hangup(event)
        node = self._current()
        if isinstance(event, Played | Recorded):
            if self._waiting is not type(event):
                raise IvrError(f"{type(event).__name__} while waiting for {self.waiting_for}")
            self.steps.append(IvrStep(self._name(), None, event.at))
            assert isinstance(node, PlayNode | CallbackNode | MessageNode)
            if isinstance(node, MessageNode):
                self.message = True
            return self._enter(node.next, event.at)
        if self._waiting is not Digits or not isinstance(node, _INPUT):
            raise IvrError(f"{type(event).__name__} while waiting for {self.waiting_for}")
        if isinstance(event, Timeout):
            self.steps.append(IvrStep(self._name(), "timeout", event.at))
            return self._retry(node, event.at, invalid=False)
        return self._entry(node, event)

    # -- transitions -------------------------------------------------------------------------------

    def _current(self) -> Node:
        return self.menu.nodes[self._name()]

    def _name(self) -> str:
        if self.node_name is None:
            raise IvrError("no current node")
        return self.node_name

    def _enter(self, name: str, at: datetime | None) -> list[IvrCommand]:
        commands: list[IvrCommand] = []
        for _ in range(_MAX_AUTOMATIC_STEPS):
            node = self.menu.nodes.get(name)
            if node is None:
                raise IvrError(f"unknown node {name!r}")
            self.node_name = name
            self.attempts = 0
            if isinstance(node, SetNode):
                self._apply(node)
                name = node.next
                continue
            if isinstance(node, TimeNode):
                target = self._branch(node, name, at)
                self.steps.append(IvrStep(name, None, at, branch=target))
                name = target
                continue
            if isinstance(node, CallbackNode):
                self.callback = True
                number = self.vars.get(node.number_var) if node.number_var else None
                self.callback_number = number or self.caller or None
                if node.prompt is None:
                    self.steps.append(IvrStep(name, None, at))
                    name = node.next
                    continue
                self._waiting = Played
                return [*commands, Play(node.prompt.file_for(self.language))]
            if isinstance(node, PlayNode):
                self._waiting = Played
                return [*commands, Play(node.prompt.file_for(self.language))]
            if isinstance(node, MessageNode):
                self._waiting = Recorded
                return [*commands, Play(node.prompt.file_for(self.language)), Record(node.max_seconds)]
            if isinstance(node, _INPUT):
                self._waiting = Digits
                return [*commands, self._collect(node)]
            if isinstance(node, EnqueueNode):
                return commands + self._enqueue(node, name, at)
            if isinstance(node, TransferNode):
                return commands + self._transfer(node, name, at)
            assert isinstance(node, HangupNode)
            return commands + self._hangup(node, name, at)
        raise IvrError(f"more than {_MAX_AUTOMATIC_STEPS} moves without caller input near {name!r}")

    def _apply(self, node: SetNode) -> None:
        if node.queue is not None:
            self.queue = node.queue
        if node.priority is not None:
            self.priority = node.priority
        self.skills.update(node.skills)
        if node.topic is not None:
            self.topic = node.topic
        if node.language is not None:
            self.language = node.language
        self.vars.update(node.data)

    def _branch(self, node: TimeNode, name: str, at: datetime | None) -> str:
        if at is None:
            raise IvrError(f"time node {name!r} needs the event time (start(at) was given none)")
        local = at.astimezone(self.tz)
        for rule in node.rules:
            if self._day_matches(rule, local.date()) and rule.covers(local.time().replace(tzinfo=None)):
                return rule.target
        return node.default

    def _day_matches(self, rule: TimeRule, day: date) -> bool:
        for kind in rule.days:
            if kind == "daily":
                return True
            if kind in WEEKDAYS and WEEKDAYS.index(kind) == day.weekday():
                return True
            if kind == "workdays" and self.calendar.is_workday(day):
                return True
            if kind == "offdays" and not self.calendar.is_workday(day):
                return True
            if kind == "holidays" and self._is_holiday(day):
                return True
        return False

    def _is_holiday(self, day: date) -> bool:
        """A public holiday: an off day that is not a plain weekend (the calendar may know better)."""
        known = getattr(self.calendar, "is_holiday", None)
        if callable(known):
            return bool(known(day))
        return not self.calendar.is_workday(day) and day.weekday() < 5

    def _collect(self, node: InputNode) -> Collect:
        return Collect(node.prompt.file_for(self.language), node.timeout_ms, node.max_digits)

    def _entry(self, node: InputNode, event: Digits) -> list[IvrCommand]:
        name = self._name()
        if isinstance(node, MenuNode):
            self.steps.append(IvrStep(name, event.digits, event.at))
            target = node.target_for(event.digits)
            if target is None:
                return self._retry(node, event.at, invalid=True)
            return self._enter(target, event.at)
        if isinstance(node, LanguageNode):
            self.steps.append(IvrStep(name, event.digits, event.at))
            for choice in node.choices:
                if choice.digits == event.digits:
                    self.language = choice.language
                    return self._enter(node.next, event.at)
            return self._retry(node, event.at, invalid=True)
        if isinstance(node, RateNode):
            self.steps.append(IvrStep(name, event.digits, event.at))
            for rating in node.scale:
                if rating.digits == event.digits:
                    self.satisfaction = rating.score
                    return self._enter(node.next, event.at)
            return self._retry(node, event.at, invalid=True)
        # A collected number is personal data: the path says only whether it was good.
        keys = event.digits.rstrip("#")
        value = None
        if node.min_digits <= len(keys) <= node.max_digits:
            value = check_entry(node.kind, keys)
        self.steps.append(IvrStep(name, "ok" if value is not None else "invalid", event.at))
        if value is None:
            return self._retry(node, event.at, invalid=True)
        self.vars[node.var] = value
        return self._enter(node.next, event.at)

    def _retry(self, node: InputNode, at: datetime, *, invalid: bool) -> list[IvrCommand]:
        self.attempts += 1
        if self.attempts > node.retries:
            if isinstance(node, LanguageNode | RateNode):
                return self._enter(node.next, at)  # keep the language / no score
            if node.fallback is None:
                return self._finish_hangup(at)
            return self._enter(node.fallback, at)
        commands: list[IvrCommand] = []
        invalid_prompt = None if isinstance(node, LanguageNode) else node.invalid_prompt
        if invalid and invalid_prompt is not None:
            commands.append(Play(invalid_prompt.file_for(self.language)))
        commands.append(self._collect(node))
        return commands

    def _data_vars(self, inherit: bool = False) -> list[IvrCommand]:
        prefix = "__CC_" if inherit else "CC_"
        out: list[IvrCommand] = []
        if self.topic:
            out.append(SetVar(prefix + "TOPIC", self.topic))
        if self.callback:
            out.append(SetVar(prefix + "CALLBACK", "1"))
            if self.callback_number:
                out.append(SetVar(prefix + "CALLBACK_NUMBER", self.callback_number))
        for key, value in sorted(self.vars.items()):
            out.append(SetVar(f"{prefix}DATA_{key.upper()}", value))
        if inherit:
            if self.caller:
                out.append(SetVar("__CC_CALLER", self.caller))
            out.append(SetVar("__CC_LANG", self.language))
        return out

    def _outcome_vars(self) -> list[IvrCommand]:
        return [SetVar("CC_IVR_PATH", self.path_text()), SetVar("CC_LANG", self.language)]

    def _enqueue(self, node: EnqueueNode, name: str, at: datetime | None) -> list[IvrCommand]:
        queue = node.queue or self.queue
        if queue is None:
            raise IvrError(f"node {name!r} enqueues but no queue was set")
        self.queue = queue
        self._end()
        return [SetVar("CC_QUEUE", queue), *self._outcome_vars(), *self._data_vars(), Enqueue(queue, self.data)]

    def _transfer(self, node: TransferNode, name: str, at: datetime | None) -> list[IvrCommand]:
        self.steps.append(IvrStep(name, None, at))
        self.transfer_to = node.number
        commands: list[IvrCommand] = []
        if node.prompt is not None:
            commands.append(Play(node.prompt.file_for(self.language)))
        self._end()
        return [*commands, *self._outcome_vars(), *self._data_vars(inherit=True),
                SetVar("CC_TRANSFER", node.number), Transfer(node.number, self.data)]

    def _hangup(self, node: HangupNode, name: str, at: datetime | None) -> list[IvrCommand]:
        self.steps.append(IvrStep(name, None, at))
        commands: list[IvrCommand] = []
        if node.prompt is not None:
            commands.append(Play(node.prompt.file_for(self.language)))
        return commands + self._finish_hangup(at)

    def _finish_hangup(self, at: datetime | None) -> list[IvrCommand]:
        self._end()
        return [*self._outcome_vars(), *self._data_vars(), HangupCall()]

    def _on_hangup(self, event: Hangup) -> list[IvrCommand]:
        if self.node_name is not None:
            self.steps.append(IvrStep(self.node_name, "hangup", event.at))
        self.abandoned = True
        self._end()
        return []

    def _end(self) -> None:
        self.done = True
        self._waiting = None
