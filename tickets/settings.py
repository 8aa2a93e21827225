"""The `tickets` section of the config (pydantic): categories and their deadlines, the topic taxonomy,
where the departments come from, follow-up settings. `config/models/root.py` mounts it as `Config.tickets`.

Self-contained (no import from config/) so that config/models/ can import it without a cycle.
"""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, model_validator

Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
Label = Annotated[str, Field(min_length=1, max_length=200)]


def _str_secret(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Names(_Section):
    zh: Label
    en: Label

    def get(self, language: str) -> str:
        return self.zh if language == "zh" else self.en


class CategoryConfig(_Section):
    code: Code
    name: Names
    working_days: int = Field(ge=0, le=120)  # 0: answered on the spot, due the same day


class TopicConfig(_Section):
    code: Code
    name: Names
    children: list[TopicConfig] = Field(default_factory=list)


class DepartmentConfig(_Section):
    code: Code
    name: Names
    group: Literal["county", "city_department", "public_service", "county_department", "township", "other"]
    parent: Code | None = None


class FollowUpConfig(_Section):
    enabled: bool = True
    start: time = time(9, 0)  # permitted hours for calling citizens, in the centre's time zone
    end: time = time(20, 0)
    retries: int = Field(default=2, ge=0, le=10)  # further attempts after the first
    retry_minutes: int = Field(default=60, ge=1, le=24 * 60)
    context: str = Field(default="cc-survey", pattern=r"^[a-zA-Z0-9_-]{1,64}$")  # dialplan context of the survey
    trunk: str = Field(default="PJSIP/{number}@trunk", min_length=1, max_length=200)  # dial string; {number}
    caller_id: str = Field(default="12345", max_length=64)
    scan_seconds: float = Field(default=60.0, gt=0, le=3600)
    channel: Literal["call", "sms"] = "call"

    @model_validator(mode="after")
    def _window(self) -> FollowUpConfig:
        if self.end <= self.start:
            raise ValueError("follow-up end must be after start (same day)")
        return self


class TwilioConfig(_Section):
    account_sid: Annotated[str, Field(pattern=r"^AC[0-9a-fA-F]{32}$")]
    auth_token: Annotated[SecretStr, BeforeValidator(_str_secret)]
    from_number: Annotated[str, Field(min_length=3, max_length=32)]
    webhook_url: str = Field(min_length=8, max_length=500)  # public URL Twilio posts replies to (signed)


def _default_categories() -> list[CategoryConfig]:
    return [
        CategoryConfig(code="consultation", name=Names(zh="咨询", en="Consultation"), working_days=1),
        CategoryConfig(code="help", name=Names(zh="求助", en="Help request"), working_days=3),
        CategoryConfig(code="complaint", name=Names(zh="投诉", en="Complaint"), working_days=13),
        CategoryConfig(code="suggestion", name=Names(zh="建议", en="Suggestion"), working_days=13),
        CategoryConfig(code="praise", name=Names(zh="表扬", en="Praise"), working_days=3),
    ]


class TicketsConfig(_Section):
    number_prefix: Annotated[str, Field(pattern=r"^[0-9A-Za-z]{1,12}$")] = "12345"
    categories: list[CategoryConfig] = Field(default_factory=_default_categories, min_length=1)
    channels: list[Code] = Field(default_factory=lambda: ["phone", "sms", "web", "app", "wechat", "email", "letter"])
    topics: list[TopicConfig] = Field(default_factory=list)
    departments: list[DepartmentConfig] = Field(default_factory=list)
    departments_csv: str | None = None  # path (relative: to the config file's directory)
    extension_max_days: int = Field(default=10, ge=1, le=120)
    notice_after_working_days: int = Field(default=5, ge=1, le=60)
    followup: FollowUpConfig = FollowUpConfig()
    twilio: TwilioConfig | None = None

    @model_validator(mode="after")
    def _unique(self) -> TicketsConfig:
        for name, codes in (("categories", [c.code for c in self.categories]),
                            ("departments", [d.code for d in self.departments]),
                            ("topics", [t for t, _ in walk_topics(self.topics)])):
            seen: set[str] = set()
            for code in codes:
                if code in seen:
                    raise ValueError(f"duplicate code {code!r} in tickets.{name}")
                seen.add(code)
        if self.followup.channel == "sms" and self.twilio is None:
            raise ValueError("tickets.followup.channel is sms but tickets.twilio is not configured")
        return self

    def category(self, code: str) -> CategoryConfig:
        for cat in self.categories:
            if cat.code == code:
                return cat
        raise KeyError(code)

    def topic_names(self, language: str) -> dict[str, str]:
        """topic code -> 'parent / child' label, depth first."""
        return {code: label for code, label in walk_topics(self.topics, language)}


def walk_topics(topics: list[TopicConfig], language: str = "zh", prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for topic in topics:
        label = prefix + topic.name.get(language)
        out.append((topic.code, label))
        out += walk_topics(topic.children, language, label + " / ")
    return out
