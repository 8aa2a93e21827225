"""The IVR menu model: plain frozen dataclasses, no I/O.

A menu is a set of named nodes and a start node. Node kinds:

- ``PlayNode``    play a prompt, then go to ``next``
- ``MenuNode``    play a prompt and collect digits; a choice maps digits to a node; on a timeout or an
                  invalid entry re-prompt up to ``retries`` times, then go to ``fallback`` (or hang up)
- ``SetNode``     change the call data (queue, priority, skills, topic, language), then go to ``next``
- ``EnqueueNode`` end of the IVR: the call goes to a queue (its own, or the one set earlier)
- ``HangupNode``  end of the IVR: optionally say goodbye, then hang up
- ``CollectNode`` collect digits (a phone number, an ID number, a ticket number) and check them
- ``LanguageNode`` the caller picks the prompt language by a key
- ``TimeNode``    branch on the local time of day, the weekday and the holiday calendar
- ``CallbackNode`` the caller asks to be called back (a flag the ACD gets with the call data)
- ``TransferNode`` end of the IVR: hand the call to an outside number (110/119/120/122) with the call data
- ``MessageNode`` record a message from the caller, then go on
- ``RateNode``    the after-call survey: a key gives a satisfaction score

The config layer (config/models/ivr.py) builds these from YAML; tests build them directly.
New node kinds are added here, in ``ivr/interpreter.py`` (one handler each) and in ``ivr/validate.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from types import MappingProxyType

#: Keys a DTMF entry may hold.
DTMF_KEYS = frozenset("0123456789*#")


class IvrModelError(ValueError):
    """A node or prompt was built with values that can never work."""


@dataclass(frozen=True, slots=True)
class PromptFile:
    """One language's version of a prompt: an Asterisk sound file (no extension) and its text."""

    file: str
    text: str = ""

    def __post_init__(self) -> None:
        if not self.file or any(c in self.file for c in "\r\n"):
            raise IvrModelError(f"bad sound file name {self.file!r}")


@dataclass(frozen=True, slots=True)
class Prompt:
    """A prompt in several languages. ``for_language`` falls back to the first one given."""

    by_language: Mapping[str, PromptFile]

    def __post_init__(self) -> None:
        if not self.by_language:
            raise IvrModelError("a prompt needs at least one language")
        object.__setattr__(self, "by_language", MappingProxyType(dict(self.by_language)))

    @classmethod
    def single(cls, file: str, text: str = "", language: str = "zh") -> Prompt:
        return cls({language: PromptFile(file, text)})

    def for_language(self, language: str) -> PromptFile:
        found = self.by_language.get(language)
        if found is not None:
            return found
        return next(iter(self.by_language.values()))

    def file_for(self, language: str) -> str:
        return self.for_language(language).file


@dataclass(frozen=True, slots=True)
class Choice:
    digits: str
    target: str

    def __post_init__(self) -> None:
        if not self.digits or not set(self.digits) <= DTMF_KEYS:
            raise IvrModelError(f"choice digits must be DTMF keys 0-9*#, got {self.digits!r}")


@dataclass(frozen=True, slots=True)
class PlayNode:
    prompt: Prompt
    next: str


@dataclass(frozen=True, slots=True)
class MenuNode:
    prompt: Prompt
    choices: tuple[Choice, ...]
    timeout_ms: int = 5000
    retries: int = 2
    invalid_prompt: Prompt | None = None
    fallback: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(self.choices))
        if self.timeout_ms <= 0:
            raise IvrModelError(f"timeout_ms must be > 0, got {self.timeout_ms}")
        if self.retries < 0:
            raise IvrModelError(f"retries must be >= 0, got {self.retries}")

    @property
    def max_digits(self) -> int:
        return max((len(c.digits) for c in self.choices), default=1)

    def target_for(self, digits: str) -> str | None:
        for choice in self.choices:
            if choice.digits == digits:
                return choice.target
        return None


@dataclass(frozen=True, slots=True)
class SetNode:
    """Changes the call data. ``None`` fields are left as they were; ``skills`` are merged."""

    next: str
    queue: str | None = None
    priority: int | None = None
    skills: Mapping[str, int] = field(default_factory=dict)
    topic: str | None = None
    language: str | None = None
    data: Mapping[str, str] = field(default_factory=dict)  # free call data, e.g. {district: 朝阳}

    def __post_init__(self) -> None:
        object.__setattr__(self, "skills", MappingProxyType(dict(self.skills)))
        object.__setattr__(self, "data", MappingProxyType(dict(self.data)))


@dataclass(frozen=True, slots=True)
class EnqueueNode:
    queue: str | None = None


@dataclass(frozen=True, slots=True)
class HangupNode:
    prompt: Prompt | None = None


#: What a CollectNode checks. ``digits``: only the length.
COLLECT_KINDS = ("digits", "phone", "id_number", "ticket")


@dataclass(frozen=True, slots=True)
class CollectNode:
    """Collect ``min_digits``..``max_digits`` keys (``#`` ends early), check them as ``kind``, store them
    as call data ``var``. A bad or missing entry re-prompts like a menu, then goes to ``fallback``
    (or hangs up). On an ID number the keypad's ``*`` stands for the check character X."""

    prompt: Prompt
    next: str
    var: str
    kind: str = "digits"
    min_digits: int = 1
    max_digits: int = 20
    timeout_ms: int = 8000
    retries: int = 2
    invalid_prompt: Prompt | None = None
    fallback: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in COLLECT_KINDS:
            raise IvrModelError(f"collect kind must be one of {', '.join(COLLECT_KINDS)}, got {self.kind!r}")
        if not 1 <= self.min_digits <= self.max_digits <= 64:
            raise IvrModelError(f"need 1 <= min_digits <= max_digits <= 64, got {self.min_digits}, {self.max_digits}")
        if self.timeout_ms <= 0 or self.retries < 0:
            raise IvrModelError("timeout_ms must be > 0 and retries >= 0")
        if not self.var:
            raise IvrModelError("a collect node needs the name of the call data it fills (var)")


@dataclass(frozen=True, slots=True)
class LanguageChoice:
    digits: str
    language: str

    def __post_init__(self) -> None:
        if not self.digits or not set(self.digits) <= DTMF_KEYS:
            raise IvrModelError(f"choice digits must be DTMF keys 0-9*#, got {self.digits!r}")


@dataclass(frozen=True, slots=True)
class LanguageNode:
    """The caller picks a language by a key; no (valid) key after the retries keeps the current one."""

    prompt: Prompt
    choices: tuple[LanguageChoice, ...]
    next: str
    timeout_ms: int = 5000
    retries: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(self.choices))
        if self.timeout_ms <= 0 or self.retries < 0:
            raise IvrModelError("timeout_ms must be > 0 and retries >= 0")

    @property
    def max_digits(self) -> int:
        return max((len(c.digits) for c in self.choices), default=1)


#: Day kinds of a time rule (as the shift rules name them) and weekday names (Monday first).
DAY_KINDS = ("daily", "workdays", "offdays", "holidays")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class TimeRule:
    """Matches when the local date is of ``days`` (a day kind or weekday names) and the local time is in
    [start, end) (``end <= start``: the window crosses midnight; 00:00-00:00 is the whole day)."""

    target: str
    days: tuple[str, ...] = ("daily",)
    start: time = time(0, 0)
    end: time = time(0, 0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "days", tuple(self.days))
        for day in self.days:
            if day not in DAY_KINDS and day not in WEEKDAYS:
                raise IvrModelError(f"unknown day {day!r}: one of {', '.join(DAY_KINDS + WEEKDAYS)}")

    def covers(self, at: time) -> bool:
        if self.start == self.end:
            return True
        if self.start < self.end:
            return self.start <= at < self.end
        return at >= self.start or at < self.end

    def label(self) -> str:
        days = ",".join(self.days)
        if self.start == self.end:
            return days
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True, slots=True)
class TimeNode:
    """Goes to the target of the first rule that matches the call's local time, else to ``default``."""

    rules: tuple[TimeRule, ...]
    default: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))


@dataclass(frozen=True, slots=True)
class CallbackNode:
    """The caller asks to be called back: the number is the call data ``number_var`` (collected before)
    or, without it, the caller's own number. Then ``next`` (usually a thank-you and hang-up)."""

    next: str
    number_var: str | None = None
    prompt: Prompt | None = None


#: Public emergency and service numbers a 12345 line hands calls to (police, fire, ambulance, traffic).
EMERGENCY_NUMBERS = frozenset({"110", "119", "120", "122"})


@dataclass(frozen=True, slots=True)
class TransferNode:
    """End of the IVR: say ``prompt``, then hand the call to ``number`` with the call data attached."""

    number: str
    prompt: Prompt | None = None

    def __post_init__(self) -> None:
        if not self.number or not all(c.isdigit() or c in "+*#" for c in self.number):
            raise IvrModelError(f"a transfer number is digits (e.g. 110), got {self.number!r}")


@dataclass(frozen=True, slots=True)
class MessageNode:
    """Say ``prompt``, record the caller's message (``#`` ends it) for up to ``max_seconds``, then ``next``."""

    prompt: Prompt
    next: str
    max_seconds: int = 120

    def __post_init__(self) -> None:
        if not 1 <= self.max_seconds <= 3600:
            raise IvrModelError(f"max_seconds must be 1..3600, got {self.max_seconds}")


@dataclass(frozen=True, slots=True)
class Rating:
    digits: str
    score: int
    label: str = ""

    def __post_init__(self) -> None:
        if not self.digits or not set(self.digits) <= DTMF_KEYS:
            raise IvrModelError(f"rating digits must be DTMF keys 0-9*#, got {self.digits!r}")


@dataclass(frozen=True, slots=True)
class RateNode:
    """The survey question: a key gives the satisfaction score; no (valid) key after the retries goes on
    without a score."""

    prompt: Prompt
    scale: tuple[Rating, ...]
    next: str
    timeout_ms: int = 5000
    retries: int = 1
    invalid_prompt: Prompt | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", tuple(self.scale))
        if self.timeout_ms <= 0 or self.retries < 0:
            raise IvrModelError("timeout_ms must be > 0 and retries >= 0")

    @property
    def max_digits(self) -> int:
        return max((len(r.digits) for r in self.scale), default=1)


Node = (
    PlayNode | MenuNode | SetNode | EnqueueNode | HangupNode | CollectNode | LanguageNode | TimeNode
    | CallbackNode | TransferNode | MessageNode | RateNode
)
#: Nodes that end the IVR.
TERMINAL = (EnqueueNode, HangupNode, TransferNode)
#: Nodes that wait for keys (each counts as one level of depth).
INPUT_NODES = (MenuNode, CollectNode, LanguageNode, RateNode)


@dataclass(frozen=True, slots=True)
class Menu:
    start: str
    nodes: Mapping[str, Node]
    #: languages every prompt must have (validation); empty: no check
    languages: tuple[str, ...] = ()
    #: most menu levels (nodes waiting for keys) a caller may pass on the way to any node
    max_depth: int = 4

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", MappingProxyType(dict(self.nodes)))
        object.__setattr__(self, "languages", tuple(self.languages))

    @classmethod
    def flat(cls, queue: str, greeting: Prompt | None = None) -> Menu:
        """Flat mode: an optional greeting, then straight to the queue."""
        nodes: dict[str, Node] = {"enqueue": EnqueueNode(queue)}
        if greeting is None:
            return cls("enqueue", nodes)
        nodes["welcome"] = PlayNode(greeting, "enqueue")
        return cls("welcome", nodes)


def successors(node: Node) -> list[tuple[str, str]]:
    """(where in the node, target) for every edge out of ``node``; where is a key path suffix."""
    if isinstance(node, PlayNode | SetNode | LanguageNode | CallbackNode | MessageNode | RateNode):
        return [("next", node.next)]
    if isinstance(node, MenuNode):
        edges = [(f"choices.{c.digits}", c.target) for c in node.choices]
        if node.fallback is not None:
            edges.append(("fallback", node.fallback))
        return edges
    if isinstance(node, CollectNode):
        edges = [("next", node.next)]
        if node.fallback is not None:
            edges.append(("fallback", node.fallback))
        return edges
    if isinstance(node, TimeNode):
        return [*((f"rules.{i}", r.target) for i, r in enumerate(node.rules)), ("default", node.default)]
    return []


def prompts(node: Node) -> list[tuple[str, Prompt]]:
    """(key, prompt) for every prompt of ``node``."""
    found: list[tuple[str, Prompt | None]] = []
    if isinstance(node, PlayNode | MenuNode | CollectNode | LanguageNode | MessageNode | RateNode):
        found.append(("prompt", node.prompt))
    if isinstance(node, HangupNode | CallbackNode | TransferNode):
        found.append(("prompt", node.prompt))
    if isinstance(node, MenuNode | CollectNode | RateNode):
        found.append(("invalid_prompt", node.invalid_prompt))
    return [(key, p) for key, p in found if p is not None]


def kind_of(node: Node) -> str:
    """The YAML ``kind`` of a node: 'play', 'menu', ..."""
    return _KINDS[type(node)]


_KINDS: dict[type, str] = {
    PlayNode: "play", MenuNode: "menu", SetNode: "set", EnqueueNode: "enqueue", HangupNode: "hangup",
    CollectNode: "collect", LanguageNode: "language", TimeNode: "time", CallbackNode: "callback",
    TransferNode: "transfer", MessageNode: "message", RateNode: "rate",
}
