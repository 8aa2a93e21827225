"""The IVR menu model: plain frozen dataclasses, no I/O.

A menu is a set of named nodes and a start node. Node kinds:

- ``PlayNode``    play a prompt, then go to ``next``
- ``MenuNode``    play a prompt and collect digits; a choice maps digits to a node; on a timeout or an
                  invalid entry re-prompt up to ``retries`` times, then go to ``fallback`` (or hang up)
- ``SetNode``     change the call data (queue, priority, skills, topic, language), then go to ``next``
- ``EnqueueNode`` end of the IVR: the call goes to a queue (its own, or the one set earlier)
- ``HangupNode``  end of the IVR: optionally say goodbye, then hang up

The config layer (config/models.py) builds these from YAML; tests build them directly.
New node kinds are added here, in ``ivr/interpreter.py`` (one handler each) and in ``ivr/validate.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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

    def __post_init__(self) -> None:
        object.__setattr__(self, "skills", MappingProxyType(dict(self.skills)))


@dataclass(frozen=True, slots=True)
class EnqueueNode:
    queue: str | None = None


@dataclass(frozen=True, slots=True)
class HangupNode:
    prompt: Prompt | None = None


Node = PlayNode | MenuNode | SetNode | EnqueueNode | HangupNode


@dataclass(frozen=True, slots=True)
class Menu:
    start: str
    nodes: Mapping[str, Node]

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", MappingProxyType(dict(self.nodes)))

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
    if isinstance(node, PlayNode | SetNode):
        return [("next", node.next)]
    if isinstance(node, MenuNode):
        edges = [(f"choices.{c.digits}", c.target) for c in node.choices]
        if node.fallback is not None:
            edges.append(("fallback", node.fallback))
        return edges
    return []
