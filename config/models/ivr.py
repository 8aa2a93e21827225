"""The ``ivr`` section: prompts, the node kinds, the survey, and ``ivr_issues`` (``ivr.validate``'s checks
keyed under ``ivr``). Imports go one way: this module builds ``ivr.model.Menu`` objects; ivr/ never imports config.
"""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag, model_validator

from config.models.base import Language, Name, Section, Skill, Text, hhmm_time, number_to_str
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
Digits = Annotated[str, BeforeValidator(number_to_str), Field(pattern=r"^[0-9*#]{1,8}$")]
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
    data: dict[VarName, Annotated[str, BeforeValidator(number_to_str), Field(max_length=200)]] = Field(
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
        return hhmm_time(value.removesuffix(":00") if value.count(":") == 2 else value)  # 'HH:MM:00' as dumped
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
    number: Annotated[str, BeforeValidator(number_to_str), Field(pattern=r"^\+?[0-9*#]{2,20}$")]
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
