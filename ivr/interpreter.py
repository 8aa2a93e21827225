"""The sans-IO IVR interpreter: events in, commands out. No clock, no I/O.

Contract with whoever runs it (the AGI adapter, the simulator, a test):

- ``start()`` and ``handle(event)`` return a list of commands, to be carried out in order.
- Only the LAST command of a list waits for an answer: after ``Play`` send ``Played``; after
  ``Collect`` send ``Digits`` (what the caller typed, possibly cut short by the timeout) or ``Timeout``
  (nothing typed). A ``Play`` before the last command is simply played to its end.
- ``Enqueue`` and ``Hangup`` end the run (``run.done``); ``Hangup`` may come as an event at any time
  (the caller hung up) and also ends it, as abandoned.
- Before ``Enqueue``/``Hangup`` the run emits ``SetVar`` for CC_QUEUE (enqueue only), CC_IVR_PATH and
  CC_LANG so the dialplan and the call record see the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from ivr.model import DTMF_KEYS, EnqueueNode, HangupNode, Menu, MenuNode, Node, PlayNode, SetNode


class IvrError(Exception):
    """The run was driven wrongly (an event it did not wait for) or the menu is broken at run time."""


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


IvrEvent = Digits | Timeout | Hangup | Played


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
class CallData:
    """What the IVR learnt about the call, handed to the ACD with the enqueue."""

    queue: str | None = None
    priority: int = 0
    skills: Any = field(default_factory=lambda: MappingProxyType({}))
    topic: str | None = None
    language: str = "zh"


@dataclass(frozen=True, slots=True)
class Enqueue:
    queue: str
    data: CallData


@dataclass(frozen=True, slots=True)
class HangupCall:
    """Hang the call up (the IVR ended it, e.g. a closed-hours message)."""


IvrCommand = Play | Collect | SetVar | Enqueue | HangupCall


@dataclass(frozen=True, slots=True)
class Step:
    """One step of the caller's path: a node played or a menu answered (digits, 'timeout', 'hangup')."""

    node: str
    digits: str | None
    at: datetime | None

    def text(self) -> str:
        return self.node if self.digits is None else f"{self.node}:{self.digits}"


#: Automatic moves (set, play chains) allowed between two caller inputs; a guard, validation finds loops.
_MAX_AUTOMATIC_STEPS = 1000


class IvrRun:
    """One caller's walk through a menu."""

    def __init__(self, menu: Menu, language: str = "zh") -> None:
        self.menu = menu
        self.language = language
        self.queue: str | None = None
        self.priority = 0
        self.skills: dict[str, int] = {}
        self.topic: str | None = None
        self.steps: list[Step] = []
        self.node_name: str | None = None
        self.attempts = 0  # failed entries at the current menu
        self.done = False
        self.abandoned = False
        self._waiting: type | None = None  # Played or Collect-result, see waiting_for
        self._started = False

    # -- public face -------------------------------------------------------------------------------

    @property
    def waiting_for(self) -> str | None:
        """'played', 'digits' or None (done or not started)."""
        if self._waiting is Played:
            return "played"
        if self._waiting is Digits:
            return "digits"
        return None

    @property
    def data(self) -> CallData:
        return CallData(
            queue=self.queue,
            priority=self.priority,
            skills=MappingProxyType(dict(self.skills)),
            topic=self.topic,
            language=self.language,
        )

    def path_text(self) -> str:
        return ">".join(step.text() for step in self.steps)

    def start(self, at: datetime | None = None) -> list[IvrCommand]:
        if self._started:
            raise IvrError("run already started")
        self._started = True
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
        if isinstance(event, Played):
            if self._waiting is not Played or not isinstance(node, PlayNode):
                raise IvrError(f"Played while waiting for {self.waiting_for}")
            self.steps.append(Step(self._name(), None, event.at))
            return self._enter(node.next, event.at)
        if self._waiting is not Digits or not isinstance(node, MenuNode):
            raise IvrError(f"{type(event).__name__} while waiting for {self.waiting_for}")
        if isinstance(event, Timeout):
            self.steps.append(Step(self._name(), "timeout", event.at))
            return self._retry(node, event.at, invalid=False)
        self.steps.append(Step(self._name(), event.digits, event.at))
        target = node.target_for(event.digits)
        if target is None:
            return self._retry(node, event.at, invalid=True)
        return self._enter(target, event.at)

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
            if isinstance(node, PlayNode):
                self._waiting = Played
                return [*commands, Play(node.prompt.file_for(self.language))]
            if isinstance(node, MenuNode):
                self._waiting = Digits
                return [*commands, self._collect(node)]
            if isinstance(node, EnqueueNode):
                return commands + self._enqueue(node, name, at)
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

    def _collect(self, node: MenuNode) -> Collect:
        return Collect(node.prompt.file_for(self.language), node.timeout_ms, node.max_digits)

    def _retry(self, node: MenuNode, at: datetime, *, invalid: bool) -> list[IvrCommand]:
        self.attempts += 1
        if self.attempts > node.retries:
            if node.fallback is None:
                return self._finish_hangup(at)
            return self._enter(node.fallback, at)
        commands: list[IvrCommand] = []
        if invalid and node.invalid_prompt is not None:
            commands.append(Play(node.invalid_prompt.file_for(self.language)))
        commands.append(self._collect(node))
        return commands

    def _outcome_vars(self) -> list[IvrCommand]:
        return [SetVar("CC_IVR_PATH", self.path_text()), SetVar("CC_LANG", self.language)]

    def _enqueue(self, node: EnqueueNode, name: str, at: datetime | None) -> list[IvrCommand]:
        queue = node.queue or self.queue
        if queue is None:
            raise IvrError(f"node {name!r} enqueues but no queue was set")
        self.queue = queue
        self._end()
        return [SetVar("CC_QUEUE", queue), *self._outcome_vars(), Enqueue(queue, self.data)]

    def _hangup(self, node: HangupNode, name: str, at: datetime | None) -> list[IvrCommand]:
        self.steps.append(Step(name, None, at))
        commands: list[IvrCommand] = []
        if node.prompt is not None:
            commands.append(Play(node.prompt.file_for(self.language)))
        return commands + self._finish_hangup(at)

    def _finish_hangup(self, at: datetime | None) -> list[IvrCommand]:
        self._end()
        return [*self._outcome_vars(), HangupCall()]

    def _on_hangup(self, event: Hangup) -> list[IvrCommand]:
        if self.node_name is not None:
            self.steps.append(Step(self.node_name, "hangup", event.at))
        self.abandoned = True
        self._end()
        return []

    def _end(self) -> None:
        self.done = True
        self._waiting = None
