"""Shared pieces of the configuration schema: the base ``Section`` and the field types every section uses."""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr

Language = Literal["zh", "en"]


def number_to_str(value: Any) -> Any:
    # YAML reads `id: 1001` or `secret: 1234` as numbers; they are names here.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


NumberOrStr = Annotated[str, BeforeValidator(number_to_str)]
Secret = Annotated[SecretStr, BeforeValidator(number_to_str)]
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


Skill = Annotated[int, Field(ge=1, le=10)]
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


def hhmm_time(text: str) -> time:
    """'HH:MM' between 00:00 and 24:00 (24:00 is midnight, the end of a day) as a time of day."""
    if text == "24:00":
        return time(0, 0)
    match = _HHMM.match(text)
    if match is None:
        raise ValueError("expected a time 'HH:MM' between 00:00 and 24:00")
    return time(int(match.group(1)), int(match.group(2)))
