"""The configuration schema: one pydantic model per section, unknown keys refused.

``Config`` checks each section's fields, then the links between sections (``cross_check``): unique
names and ids, agents' queues exist, queue fallbacks exist, shift teams exist, the IVR's targets and
queues exist (``ivr.validate``). Secrets are ``SecretStr``; the database URL is shown with its password
masked. The loader (config/loader.py) turns errors into messages naming the file, the key and the line.
"""

from __future__ import annotations

import re
from datetime import time
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    field_validator,
    model_validator,
)

from config.yamlsource import Loc, SourceIssue
from ivr.model import (
    Choice,
    EnqueueNode,
    HangupNode,
    Menu,
    MenuNode,
    Node,
    PlayNode,
    Prompt,
    PromptFile,
    SetNode,
)
from ivr.validate import check as check_menu

Language = Literal["zh", "en"]


def _number_to_str(value: Any) -> Any:
    # YAML reads `id: 1001` or `secret: 1234` as numbers; they are names here.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


NumberOrStr = Annotated[str, BeforeValidator(_number_to_str)]
Secret = Annotated[SecretStr, BeforeValidator(_number_to_str)]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
Port = Annotated[int, Field(ge=1, le=65535)]
Text = Annotated[str, Field(min_length=1, max_length=200)]


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {name!r} (e.g. Asia/Shanghai)") from None
    return name


TimeZoneName = Annotated[str, BeforeValidator(_check_timezone)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- centre, connections ---------------------------------------------------------------------------


class CentreConfig(Section):
    name: Text
    timezone: TimeZoneName = "Asia/Shanghai"
    language: Language = "zh"
    connection_rate_target: float = Field(0.97, gt=0, le=1)
    # Until agents log in from the agent desktop, the daemon logs every configured agent in and
    # makes them ready at start (the demo and a small centre run this way).
    auto_ready_agents: bool = True


class TlsConfig(Section):
    cafile: str | None = None
    verify: bool = True


class AmiConfig(Section):
    host: str = "127.0.0.1"
    port: Port = 5038
    username: NumberOrStr
    secret: Secret
    tls: TlsConfig | None = None
    ping_interval: float = Field(10.0, gt=0, le=300)
    action_timeout: float = Field(5.0, gt=0, le=120)


class AgiConfig(Section):
    host: str = "127.0.0.1"
    port: Port = 4573


_URL_PASSWORD = re.compile(r"(?P<head>://[^/@:]*:)(?P<password>[^@/]*)(?P<at>@)")
_URL_SCHEME = re.compile(r"^(sqlite|postgresql)(\+[a-z0-9_]+)?://")


def mask_url(url: str) -> str:
    """The URL with any password replaced by '***'."""
    return _URL_PASSWORD.sub(r"\g<head>***\g<at>", url)


class DatabaseConfig(Section):
    url: str = "sqlite:///callcenter.db"

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not _URL_SCHEME.match(url):
            # Never echo the URL: it may hold a password.
            raise ValueError(
                "expected sqlite:///FILE or postgresql+psycopg://USER:PASSWORD@HOST/DB"
            )
        return url

    @property
    def masked_url(self) -> str:
        return mask_url(self.url)

    def __repr_args__(self) -> Any:
        yield "url", self.masked_url


class MqttConfig(Section):
    host: str = "127.0.0.1"
    port: Port = 1883
    username: NumberOrStr | None = None
    password: Secret | None = None
    topic_prefix: str = Field("callcenter", pattern=r"^[A-Za-z0-9_/-]+$")


class WebConfig(Section):
    host: str = "127.0.0.1"
    port: Port = 8080


# --- queues, agents, shifts ------------------------------------------------------------------------


class QueueStrategy(StrEnum):
    LONGEST_IDLE = "longest_idle"
    FEWEST_CALLS = "fewest_calls"
    ROUND_ROBIN = "round_robin"
    SKILL_LEVEL = "skill_level"


class QueueConfig(Section):
    name: Name
    label_zh: Text
    label_en: Text
    strategy: QueueStrategy = QueueStrategy.LONGEST_IDLE
    wrapup_seconds: int = Field(15, ge=0, le=3600)
    ring_timeout: int = Field(15, ge=1, le=300)
    max_wait: int = Field(600, ge=0, description="seconds before the call overflows to fallback; 0: none")
    max_length: int = Field(0, ge=0, description="callers waiting at most; 0: no limit")
    fallback: Name | None = None

    def label(self, language: str) -> str:
        return self.label_en if language == "en" else self.label_zh


Skill = Annotated[int, Field(ge=1, le=10)]


class AgentConfig(Section):
    id: Annotated[NumberOrStr, Field(pattern=r"^[0-9]{1,10}$")]
    name: Text
    endpoint: Annotated[str, Field(pattern=r"^[^\s,]+$", description="a dial string, e.g. PJSIP/1001")]
    queues: list[Name] = Field(default_factory=list)
    skills: dict[str, Skill] = Field(default_factory=dict)
    team: Text | None = None


Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


def _parse_days(value: Any) -> Any:
    """['mon', 'fri'], 'mon-fri', ['mon-fri', 'sun'] or 'daily' -> list of day names."""
    if value == "daily":
        return list(_DAYS)
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        return value
    days: list[Any] = []
    for item in items:
        if isinstance(item, str) and "-" in item:
            first, _, last = item.partition("-")
            if first in _DAYS and last in _DAYS:
                a, b = _DAYS.index(first), _DAYS.index(last)
                days.extend(_DAYS[a : b + 1] if a <= b else _DAYS[a:] + _DAYS[: b + 1])
                continue
        days.append(item)
    return days



class ShiftConfig(Section):
    name: Text
    teams: list[Text] = Field(min_length=1)
    start: time
    end: time
    days: Annotated[list[Day], BeforeValidator(_parse_days)] = Field(default_factory=lambda: list(_DAYS))
    timezone: TimeZoneName | None = None  # None: the centre's

    @model_validator(mode="before")
    @classmethod
    def _team_alias(cls, data: Any) -> Any:
        # 'team: A' reads better for one team; it means 'teams: [A]'.
        if isinstance(data, dict) and "team" in data and "teams" not in data:
            data = dict(data)
            team = data.pop("team")
            data["teams"] = [team] if isinstance(team, str) else team
        return data

    @field_validator("start", "end", mode="before")
    @classmethod
    def _hhmm(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value == "24:00":
                return time(0, 0)
            match = _HHMM.match(value)
            if match is None:
                raise ValueError("expected a time 'HH:MM' between 00:00 and 24:00")
            return time(int(match.group(1)), int(match.group(2)))
        return value

    @property
    def crosses_midnight(self) -> bool:
        """True for e.g. 22:00-06:00 (start == end, e.g. 00:00-24:00, is a 24-hour shift)."""
        return self.end <= self.start

    @property
    def minutes(self) -> int:
        start = self.start.hour * 60 + self.start.minute
        end = self.end.hour * 60 + self.end.minute
        return (end - start) % (24 * 60) or 24 * 60


# --- IVR --------------------------------------------------------------------------------------------


class PromptFileConfig(Section):
    file: Annotated[str, Field(pattern=r"^[^\s\"\\]+$", description="sound file, no extension")]
    text: str = ""


def _prompt_shorthand(value: Any) -> Any:
    # 'welcome' -> the same file for every language; {zh: 'a'} -> {zh: {file: 'a'}}.
    if isinstance(value, str):
        return {"zh": {"file": value}, "en": {"file": value}}
    if isinstance(value, dict):
        return {k: {"file": v} if isinstance(v, str) else v for k, v in value.items()}
    return value


PromptConfig = Annotated[
    dict[Language, PromptFileConfig], BeforeValidator(_prompt_shorthand), Field(min_length=1)
]


def _prompt(config: dict[Language, PromptFileConfig]) -> Prompt:
    return Prompt({lang: PromptFile(p.file, p.text) for lang, p in config.items()})


NodeName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")]
Digits = Annotated[str, Field(pattern=r"^[0-9*#]{1,8}$")]


class PlayNodeConfig(Section):
    kind: Literal["play"]
    prompt: PromptConfig
    next: NodeName

    def to_node(self) -> Node:
        return PlayNode(_prompt(self.prompt), self.next)


class MenuNodeConfig(Section):
    kind: Literal["menu"]
    prompt: PromptConfig
    choices: dict[Digits, NodeName] = Field(min_length=1)
    timeout: float = Field(5.0, gt=0, le=60, description="seconds to wait for digits")
    retries: int = Field(2, ge=0, le=10)
    invalid_prompt: PromptConfig | None = None
    fallback: NodeName | None = None

    def to_node(self) -> Node:
        return MenuNode(
            prompt=_prompt(self.prompt),
            choices=tuple(Choice(d, t) for d, t in self.choices.items()),
            timeout_ms=round(self.timeout * 1000),
            retries=self.retries,
            invalid_prompt=_prompt(self.invalid_prompt) if self.invalid_prompt else None,
            fallback=self.fallback,
        )


class SetNodeConfig(Section):
    kind: Literal["set"]
    next: NodeName
    queue: Name | None = None
    priority: int | None = Field(None, ge=0, le=9)
    skills: dict[str, Skill] = Field(default_factory=dict)
    topic: Text | None = None
    language: Language | None = None

    def to_node(self) -> Node:
        return SetNode(self.next, self.queue, self.priority, dict(self.skills), self.topic, self.language)


class EnqueueNodeConfig(Section):
    kind: Literal["enqueue"]
    queue: Name | None = None

    def to_node(self) -> Node:
        return EnqueueNode(self.queue)


class HangupNodeConfig(Section):
    kind: Literal["hangup"]
    prompt: PromptConfig | None = None

    def to_node(self) -> Node:
        return HangupNode(_prompt(self.prompt) if self.prompt else None)


NodeConfig = Annotated[
    PlayNodeConfig | MenuNodeConfig | SetNodeConfig | EnqueueNodeConfig | HangupNodeConfig,
    Field(discriminator="kind"),
]


class MenuIvrConfig(Section):
    mode: Literal["menu"] = "menu"
    start: NodeName
    nodes: dict[NodeName, NodeConfig] = Field(min_length=1)

    def to_menu(self) -> Menu:
        return Menu(self.start, {name: node.to_node() for name, node in self.nodes.items()})


class FlatIvrConfig(Section):
    """Flat mode: an optional greeting, then straight to one queue."""

    mode: Literal["flat"]
    greeting: PromptConfig | None = None
    queue: Name

    def to_menu(self) -> Menu:
        return Menu.flat(self.queue, _prompt(self.greeting) if self.greeting else None)


def _ivr_mode(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("mode", "menu"))
    return str(getattr(value, "mode", "menu"))


IvrConfig = Annotated[
    Annotated[MenuIvrConfig, Tag("menu")] | Annotated[FlatIvrConfig, Tag("flat")],
    Discriminator(_ivr_mode),
]


# --- the whole file ---------------------------------------------------------------------------------


class CrossCheckError(ValueError):
    """Links between sections are broken; carries every issue with its key path."""

    def __init__(self, issues: list[SourceIssue]) -> None:
        self.issues = issues
        super().__init__("; ".join(f"{_dotted(i.loc)}: {i.message}" for i in issues))


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class Config(Section):
    centre: CentreConfig
    ami: AmiConfig
    agi: AgiConfig = AgiConfig()
    database: DatabaseConfig = DatabaseConfig()
    mqtt: MqttConfig | None = None
    web: WebConfig = WebConfig()
    queues: list[QueueConfig] = Field(min_length=1)
    agents: list[AgentConfig] = Field(default_factory=list)
    shifts: list[ShiftConfig] = Field(default_factory=list)
    ivr: IvrConfig | None = None

    @model_validator(mode="after")
    def _links(self) -> Config:
        issues = cross_check(self)
        if issues:
            raise CrossCheckError(issues)
        return self

    def queue(self, name: str) -> QueueConfig:
        for queue in self.queues:
            if queue.name == name:
                return queue
        raise KeyError(name)

    def ivr_menu(self) -> Menu:
        """The IVR menu; with no ``ivr`` section, flat mode straight to the first queue."""
        if self.ivr is None:
            return Menu.flat(self.queues[0].name)
        return self.ivr.to_menu()


def _duplicates(values: list[str], loc: str, field: str) -> list[SourceIssue]:
    issues: list[SourceIssue] = []
    first: dict[str, int] = {}
    for index, value in enumerate(values):
        if value in first:
            issues.append(
                SourceIssue((loc, index, field), f"duplicate {field} {value!r} (also {loc}[{first[value]}])")
            )
        else:
            first[value] = index
    return issues


def cross_check(config: Config) -> list[SourceIssue]:
    issues: list[SourceIssue] = []
    queue_names = [q.name for q in config.queues]
    known = set(queue_names)
    known_text = ", ".join(queue_names)
    issues += _duplicates(queue_names, "queues", "name")
    issues += _duplicates([a.id for a in config.agents], "agents", "id")
    issues += _duplicates([a.endpoint for a in config.agents], "agents", "endpoint")
    issues += _duplicates([s.name for s in config.shifts], "shifts", "name")
    for i, queue in enumerate(config.queues):
        if queue.fallback is not None and queue.fallback not in known:
            message = f"unknown queue {queue.fallback!r} (known: {known_text})"
            issues.append(SourceIssue(("queues", i, "fallback"), message))
        elif queue.fallback == queue.name:
            issues.append(SourceIssue(("queues", i, "fallback"), "a queue cannot overflow to itself"))
    for i, agent in enumerate(config.agents):
        for j, name in enumerate(agent.queues):
            if name not in known:
                issues.append(
                    SourceIssue(("agents", i, "queues", j), f"unknown queue {name!r} (known: {known_text})")
                )
    teams = {a.team for a in config.agents if a.team}
    for i, shift in enumerate(config.shifts):
        for j, team in enumerate(shift.teams):
            if team not in teams:
                issues.append(
                    SourceIssue(("shifts", i, "teams", j), f"no agent is in team {team!r}")
                )
    if config.ivr is not None:
        menu = config.ivr.to_menu()
        for issue in check_menu(menu, known):
            loc: Loc = ("ivr", *issue.where.split("."))
            if isinstance(config.ivr, FlatIvrConfig):
                loc = ("ivr", "queue")
            issues.append(SourceIssue(loc, issue.message))
    return issues
