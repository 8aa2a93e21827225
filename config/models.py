"""The configuration schema: one pydantic model per section, unknown keys refused.

``Config`` checks each section's fields, then the links between sections (``cross_check``): unique
names and ids, agents' queues exist, queue fallbacks exist, shift teams exist, the IVR's targets and
queues exist (``ivr.validate``). Secrets are ``SecretStr``; the database URL is shown with its password
masked. The loader (config/loader.py) turns errors into messages naming the file, the key and the line.
"""

from __future__ import annotations

import re
from datetime import date, time
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
    CallbackNode,
    Choice,
    CollectNode,
    EnqueueNode,
    HangupNode,
    LanguageChoice,
    LanguageNode,
    Menu,
    MenuNode,
    MessageNode,
    Node,
    PlayNode,
    Prompt,
    PromptFile,
    RateNode,
    Rating,
    SetNode,
    TimeNode,
    TimeRule,
    TransferNode,
)
from ivr.validate import check as check_menu
from tickets.settings import TicketsConfig

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
    # Callers who hang up within this many seconds of joining a queue count neither as offered nor as
    # abandoned (the rate's label says so); 0: off. Service level: answered within this many seconds.
    short_abandon_seconds: float = Field(0, ge=0, le=60)
    service_level_seconds: float = Field(15, gt=0, le=600)
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
    # Bytes: a longer frame is dropped and counted, and the reader resyncs at the next empty line.
    max_message: int = Field(default=64 * 1024, ge=4096, le=16 * 1024 * 1024)


class AgiConfig(Section):
    host: str = "127.0.0.1"
    port: Port = 4573


class CdrConfig(Section):
    """Asterisk's own call records (cdr_csv's Master.csv, see asterisk/conf/cdr.conf), read for the calls
    that ended while the daemon could not see them (AMI cut, Asterisk restarted, daemon restarted)."""

    master_csv: str = Field(min_length=1)  # e.g. /var/log/asterisk/cdr-csv/Master.csv
    #: the zone Master.csv times are written in: UTC with the shipped usegmtime=yes
    timezone: TimeZoneName = "UTC"
    #: seconds a resync waits for a gone call's CDR to appear before closing it from its last known stage
    wait: float = Field(default=2.0, ge=0, le=60)


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
    """The daemon's own broker login. Agent clients (softphone plug-ins, CRMs) get one broker user each,
    kept in Mosquitto's password file, never here: see docs/mosquitto-acl.md for the ACL that lets agent
    1001 read only callcenter/agents/1001/#."""

    host: str = "127.0.0.1"
    port: Port = 1883
    username: NumberOrStr | None = None
    password: Secret | None = None
    topic_prefix: str = Field("callcenter", pattern=r"^[A-Za-z0-9_/-]+$")


class WebConfig(Section):
    host: str = "127.0.0.1"
    port: Port = 8080
    # Signs the session cookies of the agent desktop and admin pages (32+ random characters, e.g.
    # ${CALLCENTER_SESSION_SECRET}). Unset: a random one per start, so a restart signs everyone out.
    session_secret: Secret | None = None
    session_hours: float = Field(default=12, gt=0, le=24 * 7)
    cookie_secure: bool = False  # True behind HTTPS: the session cookie is then never sent over plain HTTP
    max_body: int = Field(default=64 * 1024, ge=1024, le=64 * 1024 * 1024)  # bytes; a longer request body gets 413

    @field_validator("session_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("session_secret must be at least 32 characters")  # never echo the value
        return value


UserRole = Literal["agent", "supervisor", "admin", "department"]
_PHC_HASH = re.compile(r"^\$argon2(id|i|d)\$v=[0-9]+\$m=[0-9]+,t=[0-9]+,p=[0-9]+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$")


def _check_hash(value: Any) -> Any:
    value = _number_to_str(value)
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not isinstance(text, str) or not _PHC_HASH.match(text):
        # Never echo it: a password pasted here by mistake must not reach a log.
        raise ValueError("expected an argon2 hash ($argon2id$...), made by `python -m callcenter.web.auth`")
    return value


class UserConfig(Section):
    """A person who signs in to the web app. `agent` users are tied to an agent id; `department` users
    to the department (承办单位) whose tickets they handle."""

    username: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    role: UserRole
    password_hash: Annotated[SecretStr, BeforeValidator(_check_hash)]
    agent_id: Annotated[NumberOrStr, Field(pattern=r"^[0-9]{1,10}$")] | None = None
    department: Text | None = None

    @model_validator(mode="after")
    def _role_links(self) -> UserConfig:
        if self.role == "agent" and self.agent_id is None:
            raise ValueError("an agent user needs agent_id")
        if self.role == "department" and self.department is None:
            raise ValueError("a department user needs department")
        return self


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


DayKind = Literal["workdays", "offdays"]


def _parse_days(value: Any) -> Any:
    """['mon', 'fri'], 'mon-fri', ['mon-fri', 'sun'] or 'daily' -> list of day names; 'workdays'
    (Chinese working days: holidays off, adjusted weekend working days on) and 'offdays' stay."""
    if value == "daily":
        return list(_DAYS)
    if value in ("workdays", "offdays"):
        return value
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


Days = Annotated[list[Day] | DayKind, BeforeValidator(_parse_days)]


def days_spec(days: list[Day] | str) -> str:
    """The shift rules' form: 'daily', 'workdays', 'offdays' or 'mon,tue,...'."""
    if isinstance(days, str):
        return days
    if set(days) == set(_DAYS):
        return "daily"
    return ",".join(d for d in _DAYS if d in days)


def _clock_time(value: Any) -> Any:
    if isinstance(value, str):
        if value == "24:00":
            return time(0, 0)
        match = _HHMM.match(value)
        if match is None:
            raise ValueError("expected a time 'HH:MM' between 00:00 and 24:00")
        return time(int(match.group(1)), int(match.group(2)))
    return value


Clock = Annotated[time, BeforeValidator(_clock_time)]


class BreakConfig(Section):
    start: Clock
    minutes: int = Field(ge=1, le=240)
    waves: int = Field(1, ge=1, le=20, description="the team takes the break in turns, in this many groups")


class ShiftConfig(Section):
    name: Text
    teams: list[Text] = Field(default_factory=list, description="teams working this shift every week")
    start: Clock
    end: Clock
    days: Days = Field(default_factory=lambda: list(_DAYS))
    breaks: list[BreakConfig] = Field(default_factory=list)
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

    @property
    def crosses_midnight(self) -> bool:
        """True for e.g. 22:00-06:00 (start == end, e.g. 00:00-24:00, is a 24-hour shift)."""
        return self.end <= self.start

    @property
    def minutes(self) -> int:
        start = self.start.hour * 60 + self.start.minute
        end = self.end.hour * 60 + self.end.minute
        return (end - start) % (24 * 60) or 24 * 60


class TeamConfig(Section):
    """A team's weekly rotation: week k after ``shift_rules.rotation_start`` it works
    ``rotation[k % len]`` (a shift name, or ``off``). Its members are the agents with ``team: NAME``."""

    name: Text
    rotation: list[Text] = Field(min_length=1, max_length=52)


Minutes = Annotated[int, Field(ge=0, le=240)]


class ShiftRulesConfig(Section):
    ready_grace_minutes: Minutes = 10  # may go ready this long before the start
    no_offer_last_minutes: Minutes = 5  # no new call offered in the shift's last minutes
    logout_grace_minutes: Minutes = 5  # logged out this long after the end (a call is never cut)
    rotation_start: Annotated[str, Field(pattern=r"^[0-9]{4}-W[0-9]{2}$")] = "2026-W01"  # week 0 of rotations

    @field_validator("rotation_start")
    @classmethod
    def _iso_week(cls, value: str) -> str:
        year, week = value.split("-W")
        try:
            date.fromisocalendar(int(year), int(week), 1)
        except ValueError:
            raise ValueError(f"no ISO week {value!r}") from None
        return value


class StaffingConfig(Section):
    """At least ``minimum`` agents of ``queue`` on shift (off their breaks) from ``start`` to ``end``
    (``end <= start``: until then the next day; 00:00-00:00: all day) on ``days``."""

    queue: Name
    minimum: int = Field(ge=1, le=10_000)
    start: Clock = time(0)
    end: Clock = time(0)
    days: Days = Field(default_factory=lambda: list(_DAYS))


class HolidaysConfig(Section):
    """The Chinese public-holiday calendar (with its adjusted working days) is built in; these dates
    override it: extra days off, and extra working days (调休)."""

    days_off: list[date] = Field(default_factory=list)
    working_days: list[date] = Field(default_factory=list)


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


def _opt_prompt(config: dict[Language, PromptFileConfig] | None) -> Prompt | None:
    return _prompt(config) if config else None


NodeName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")]
Digits = Annotated[str, BeforeValidator(_number_to_str), Field(pattern=r"^[0-9*#]{1,8}$")]
VarName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Seconds = Annotated[float, Field(gt=0, le=60, description="seconds to wait for keys")]


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


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
    timeout: Seconds = 5.0
    retries: int = Field(2, ge=0, le=10)
    invalid_prompt: PromptConfig | None = None
    fallback: NodeName | None = None

    def to_node(self) -> Node:
        return MenuNode(
            prompt=_prompt(self.prompt),
            choices=tuple(Choice(d, t) for d, t in self.choices.items()),
            timeout_ms=_ms(self.timeout),
            retries=self.retries,
            invalid_prompt=_opt_prompt(self.invalid_prompt),
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
    data: dict[VarName, Annotated[str, BeforeValidator(_number_to_str), Field(max_length=200)]] = Field(
        default_factory=dict, description="free call data shown to the agent, e.g. {district: 朝阳区}"
    )

    def to_node(self) -> Node:
        return SetNode(self.next, self.queue, self.priority, dict(self.skills), self.topic, self.language,
                       dict(self.data))


class EnqueueNodeConfig(Section):
    kind: Literal["enqueue"]
    queue: Name | None = None

    def to_node(self) -> Node:
        return EnqueueNode(self.queue)


class HangupNodeConfig(Section):
    kind: Literal["hangup"]
    prompt: PromptConfig | None = None

    def to_node(self) -> Node:
        return HangupNode(_opt_prompt(self.prompt))


class CollectNodeConfig(Section):
    """Collect a number; ``check``: phone, id_number (GB 11643, * for X), ticket (Luhn) or digits."""

    kind: Literal["collect"]
    prompt: PromptConfig
    var: VarName
    check: Literal["digits", "phone", "id_number", "ticket"] = "digits"
    min_digits: int = Field(1, ge=1, le=64)
    max_digits: int = Field(20, ge=1, le=64)
    timeout: Seconds = 8.0
    retries: int = Field(2, ge=0, le=10)
    invalid_prompt: PromptConfig | None = None
    next: NodeName
    fallback: NodeName | None = None

    @model_validator(mode="after")
    def _lengths(self) -> CollectNodeConfig:
        if self.min_digits > self.max_digits:
            raise ValueError("min_digits must not exceed max_digits")
        return self

    def to_node(self) -> Node:
        return CollectNode(_prompt(self.prompt), self.next, self.var, self.check, self.min_digits,
                           self.max_digits, _ms(self.timeout), self.retries, _opt_prompt(self.invalid_prompt),
                           self.fallback)


class LanguageNodeConfig(Section):
    kind: Literal["language"]
    prompt: PromptConfig
    choices: dict[Digits, Language] = Field(min_length=1)
    next: NodeName
    timeout: Seconds = 5.0
    retries: int = Field(1, ge=0, le=10)

    def to_node(self) -> Node:
        return LanguageNode(_prompt(self.prompt), tuple(LanguageChoice(d, lang) for d, lang in self.choices.items()),
                            self.next, _ms(self.timeout), self.retries)


def _hhmm(value: Any) -> Any:
    if isinstance(value, str):
        value = value.removesuffix(":00") if value.count(":") == 2 else value  # 'HH:MM:00' as dumped
        if value == "24:00":
            return time(0, 0)
        match = _HHMM.match(value)
        if match is None:
            raise ValueError("expected a time 'HH:MM' between 00:00 and 24:00")
        return time(int(match.group(1)), int(match.group(2)))
    if isinstance(value, int) and not isinstance(value, bool):  # YAML 1.1 reads 08:00 as 480 (minutes)
        return time(value // 60 % 24, value % 60)
    return value


HHMM = Annotated[time, BeforeValidator(_hhmm)]
RuleDay = Literal["daily", "workdays", "offdays", "holidays", "mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _daily() -> list[RuleDay]:
    return ["daily"]


class TimeRuleConfig(Section):
    """``days``: daily, workdays / offdays / holidays (the Chinese calendar with 调休), or weekday names."""

    days: Annotated[list[RuleDay], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)] = Field(
        default_factory=_daily, min_length=1
    )
    start: HHMM = time(0, 0)
    end: HHMM = time(0, 0)
    goto: NodeName


class TimeNodeConfig(Section):
    kind: Literal["time"]
    rules: list[TimeRuleConfig] = Field(min_length=1)
    default: NodeName

    def to_node(self) -> Node:
        return TimeNode(tuple(TimeRule(r.goto, tuple(r.days), r.start, r.end) for r in self.rules), self.default)


class CallbackNodeConfig(Section):
    kind: Literal["callback"]
    number_var: VarName | None = Field(None, description="call data holding the number; none: the caller's")
    prompt: PromptConfig | None = None
    next: NodeName

    def to_node(self) -> Node:
        return CallbackNode(self.next, self.number_var, _opt_prompt(self.prompt))


class TransferNodeConfig(Section):
    kind: Literal["transfer"]
    number: Annotated[str, BeforeValidator(_number_to_str), Field(pattern=r"^\+?[0-9*#]{2,20}$")]
    prompt: PromptConfig | None = None

    def to_node(self) -> Node:
        return TransferNode(self.number, _opt_prompt(self.prompt))


class MessageNodeConfig(Section):
    kind: Literal["message"]
    prompt: PromptConfig
    max_seconds: int = Field(120, ge=1, le=3600)
    next: NodeName

    def to_node(self) -> Node:
        return MessageNode(_prompt(self.prompt), self.next, self.max_seconds)


class RatingConfig(Section):
    score: int = Field(ge=0, le=100)
    label: str = ""


def _rating_shorthand(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: {"score": v} if isinstance(v, int) else v for k, v in value.items()}
    return value


class RateNodeConfig(Section):
    kind: Literal["rate"]
    prompt: PromptConfig
    scale: Annotated[dict[Digits, RatingConfig], BeforeValidator(_rating_shorthand)] = Field(min_length=1)
    next: NodeName
    timeout: Seconds = 5.0
    retries: int = Field(1, ge=0, le=10)
    invalid_prompt: PromptConfig | None = None

    def to_node(self) -> Node:
        return RateNode(_prompt(self.prompt), tuple(Rating(d, r.score, r.label) for d, r in self.scale.items()),
                        self.next, _ms(self.timeout), self.retries, _opt_prompt(self.invalid_prompt))


NodeConfig = Annotated[
    PlayNodeConfig | MenuNodeConfig | SetNodeConfig | EnqueueNodeConfig | HangupNodeConfig | CollectNodeConfig
    | LanguageNodeConfig | TimeNodeConfig | CallbackNodeConfig | TransferNodeConfig | MessageNodeConfig
    | RateNodeConfig,
    Field(discriminator="kind"),
]


def _default_scale() -> dict[str, RatingConfig]:
    labels = ["非常满意", "满意", "一般", "不满意", "非常不满意"]
    return {str(i + 1): RatingConfig(score=5 - i, label=label) for i, label in enumerate(labels)}


class SurveyConfig(Section):
    """The after-call satisfaction survey (回访评价), run when the agent hangs up first. ``scale``: key ->
    score (and label); the default is the five levels 1 非常满意 (5) .. 5 非常不满意 (1)."""

    prompt: PromptConfig
    scale: Annotated[dict[Digits, RatingConfig], BeforeValidator(_rating_shorthand)] = Field(
        default_factory=_default_scale, min_length=1
    )
    thanks: PromptConfig | None = None
    invalid_prompt: PromptConfig | None = None
    timeout: Seconds = 5.0
    retries: int = Field(1, ge=0, le=10)

    def to_menu(self, languages: tuple[str, ...] = ()) -> Menu:
        rate = RateNode(_prompt(self.prompt), tuple(Rating(d, r.score, r.label) for d, r in self.scale.items()),
                        "thanks", _ms(self.timeout), self.retries, _opt_prompt(self.invalid_prompt))
        return Menu("survey", {"survey": rate, "thanks": HangupNode(_opt_prompt(self.thanks))}, languages)


class _IvrCommon(Section):
    #: languages every prompt must have; empty: the centre's language
    languages: list[Language] = Field(default_factory=list)
    #: most menu levels a caller may pass (the national hotline standard advises few)
    max_depth: int = Field(4, ge=1, le=10)
    survey: SurveyConfig | None = None
    #: dial string of an outside number for transfer nodes; {number} is replaced
    external_dial: str = Field("PJSIP/{number}@trunk", pattern=r"^[^\s,]*\{number\}[^\s,]*$")


class MenuIvrConfig(_IvrCommon):
    mode: Literal["menu"] = "menu"
    start: NodeName
    nodes: dict[NodeName, NodeConfig] = Field(min_length=1)

    def to_menu(self, languages: tuple[str, ...] = ()) -> Menu:
        return Menu(self.start, {name: node.to_node() for name, node in self.nodes.items()},
                    tuple(self.languages) or languages, self.max_depth)


class FlatIvrConfig(_IvrCommon):
    """Flat mode: an optional greeting, then straight to one queue."""

    mode: Literal["flat"]
    greeting: PromptConfig | None = None
    queue: Name

    def to_menu(self, languages: tuple[str, ...] = ()) -> Menu:
        flat = Menu.flat(self.queue, _opt_prompt(self.greeting))
        return Menu(flat.start, flat.nodes, tuple(self.languages) or languages, self.max_depth)


def _ivr_mode(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("mode", "menu"))
    return str(getattr(value, "mode", "menu"))


IvrConfig = Annotated[
    Annotated[MenuIvrConfig, Tag("menu")] | Annotated[FlatIvrConfig, Tag("flat")],
    Discriminator(_ivr_mode),
]


class TwilioConfig(Section):
    """Twilio voice webhooks serving the same menu as TwiML. The auth token signs every request."""

    auth_token: Secret
    #: the URL Twilio calls (behind a proxy the request's own URL differs); none: the request URL
    public_url: str | None = Field(None, pattern=r"^https?://[^\s]+$")
    #: where the prompts' sound files are served (<Play> {base}/{file}.wav); none: <Say> the prompt text
    sound_base_url: str | None = Field(None, pattern=r"^https?://[^\s]+$")


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
    cdr: CdrConfig | None = None
    database: DatabaseConfig = DatabaseConfig()
    mqtt: MqttConfig | None = None
    web: WebConfig = WebConfig()
    queues: list[QueueConfig] = Field(min_length=1)
    agents: list[AgentConfig] = Field(default_factory=list)
    shifts: list[ShiftConfig] = Field(default_factory=list)
    teams: list[TeamConfig] = Field(default_factory=list)
    shift_rules: ShiftRulesConfig = ShiftRulesConfig()
    staffing: list[StaffingConfig] = Field(default_factory=list)
    holidays: HolidaysConfig = HolidaysConfig()
    ivr: IvrConfig | None = None
    tickets: TicketsConfig = TicketsConfig()
    users: list[UserConfig] = Field(default_factory=list)
    twilio: TwilioConfig | None = None

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
        return self.ivr.to_menu((self.centre.language,))

    def survey_menu(self) -> Menu | None:
        """The after-call survey, or None when the centre runs none."""
        if self.ivr is None or self.ivr.survey is None:
            return None
        return self.ivr.survey.to_menu(tuple(self.ivr.languages) or (self.centre.language,))

    def known_skills(self) -> set[str]:
        return {skill for agent in self.agents for skill in agent.skills}


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


FALLBACK_ACTIONS = frozenset({"voicemail", "callback"})


def _shift_links(config: Config, known: set[str], known_text: str) -> list[SourceIssue]:
    """Shifts, teams, staffing: names resolve, a team works one shift a week, one time zone."""
    issues: list[SourceIssue] = []
    members = {a.team for a in config.agents if a.team}
    shift_names = {s.name for s in config.shifts}
    issues += _duplicates([t.name for t in config.teams], "teams", "name")
    rotated = {t.name for t in config.teams}
    listed: dict[str, str] = {}
    for i, shift in enumerate(config.shifts):
        if shift.timezone is not None and shift.timezone != config.centre.timezone:
            issues.append(SourceIssue(("shifts", i, "timezone"),
                                      f"one time zone per roster: expected the centre's {config.centre.timezone!r}"))
        for j, team in enumerate(shift.teams):
            if team not in members:
                issues.append(SourceIssue(("shifts", i, "teams", j), f"no agent is in team {team!r}"))
            elif team in rotated:
                issues.append(SourceIssue(("shifts", i, "teams", j),
                                          f"team {team!r} has a rotation under teams; list it in one place"))
            elif team in listed:
                issues.append(SourceIssue(("shifts", i, "teams", j),
                                          f"team {team!r} already works shift {listed[team]!r}: a team works one "
                                          "shift a week; give it a weekly rotation under teams"))
            else:
                listed[team] = shift.name
    for i, rotation in enumerate(config.teams):
        if rotation.name not in members:
            issues.append(SourceIssue(("teams", i, "name"), f"no agent is in team {rotation.name!r}"))
        for j, name in enumerate(rotation.rotation):
            if name != "off" and name not in shift_names:
                known_shifts = ", ".join(sorted(shift_names)) or "none"
                issues.append(SourceIssue(("teams", i, "rotation", j),
                                          f"unknown shift {name!r} (known: {known_shifts}; or off)"))
    for i, rule in enumerate(config.staffing):
        if rule.queue not in known:
            issues.append(SourceIssue(("staffing", i, "queue"), f"unknown queue {rule.queue!r} (known: {known_text})"))
    both = set(config.holidays.days_off) & set(config.holidays.working_days)
    for day in sorted(both):
        index = config.holidays.working_days.index(day)
        issues.append(SourceIssue(("holidays", "working_days", index), f"{day} is also listed under days_off"))
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
    issues += _duplicates([u.username for u in config.users], "users", "username")
    agent_ids = {a.id for a in config.agents}
    for i, user in enumerate(config.users):
        if user.agent_id is not None and user.agent_id not in agent_ids:
            issues.append(SourceIssue(("users", i, "agent_id"), f"no agent has id {user.agent_id!r}"))
    for i, queue in enumerate(config.queues):
        if queue.name in FALLBACK_ACTIONS:
            issues.append(SourceIssue(("queues", i, "name"), f"{queue.name!r} is a fallback action, not a queue name"))
        if queue.fallback is not None and queue.fallback not in known | FALLBACK_ACTIONS:
            message = f"unknown queue {queue.fallback!r} (known: {known_text}; or voicemail, callback)"
            issues.append(SourceIssue(("queues", i, "fallback"), message))
        elif queue.fallback == queue.name:
            issues.append(SourceIssue(("queues", i, "fallback"), "a queue cannot overflow to itself"))
    for i, agent in enumerate(config.agents):
        for j, name in enumerate(agent.queues):
            if name not in known:
                issues.append(
                    SourceIssue(("agents", i, "queues", j), f"unknown queue {name!r} (known: {known_text})")
                )
    issues += _shift_links(config, known, known_text)
    if config.ivr is not None:
        issues += ivr_issues(config.ivr, known, config.known_skills() if config.agents else None,
                             (config.centre.language,))
    return issues


def ivr_issues(ivr: MenuIvrConfig | FlatIvrConfig, queues: set[str] | None, skills: set[str] | None,
               languages: tuple[str, ...] = ()) -> list[SourceIssue]:
    """The menu's and the survey's checks (``ivr.validate``) as issues keyed under ``ivr``."""
    issues: list[SourceIssue] = []
    for issue in check_menu(ivr.to_menu(languages), queues, skills):
        loc: Loc = ("ivr", *issue.where.split("."))
        if isinstance(ivr, FlatIvrConfig):
            loc = ("ivr", "greeting") if issue.where.startswith("nodes.welcome") else ("ivr", "queue")
        issues.append(SourceIssue(loc, issue.with_fix()))
    if ivr.survey is not None:
        for issue in check_menu(ivr.survey.to_menu(tuple(ivr.languages) or languages), queues, skills):
            key = issue.where.split(".")[2:] if issue.where.startswith("nodes.") else []
            issues.append(SourceIssue(("ivr", "survey", *key), issue.with_fix()))
    return issues
