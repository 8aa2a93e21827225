"""The ONE validation layer for request parameters: a route declares its query string (or a body's scalar
fields) as a pydantic model and calls :func:`query` / :func:`fields`; anything malformed (``limit=abc``,
``limit=-1``, a huge number, ``version=abc``, a date that is not ISO 8601) becomes 400 ``bad_parameter`` with
the field names and what they expect. The raw input is never echoed or logged (it may be personal data), and
no route parses numbers or dates by hand, so none can fail with a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from callcenter.web.errors import WebError

M = TypeVar("M", bound=BaseModel)

#: the largest page of tickets a list answers
MAX_LIMIT = 1000


class BadParameters(WebError):
    """400 with every malformed field named (``fields``: {name: what it expects})."""

    def __init__(self, fields: dict[str, str]) -> None:
        detail = "; ".join(f"{k}: {v}" for k, v in fields.items())
        super().__init__(400, "bad_parameter", f"malformed parameters: {detail}")
        self.fields = fields


def _iso_time(value: Any) -> Any:
    """'2026-09-01' or '2026-09-01T10:00' (zone optional: UTC) -> an aware datetime; '' -> None."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            raise ValueError("expected an ISO 8601 date or time, e.g. 2026-09-01") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


IsoTime = Annotated[datetime | None, BeforeValidator(_iso_time)]


class Params(BaseModel):
    """Base of every parameter model: unknown query keys are ignored (links carry extra ones), numbers
    are parsed strictly from their text."""

    model_config = ConfigDict(extra="ignore", str_max_length=200)


class TicketListQuery(Params):
    state: str | None = None
    department: str | None = None
    since: IsoTime = None
    until: IsoTime = None
    open: str | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = 200

    @property
    def open_only(self) -> bool:
        return self.open in ("1", "true")


class ExportQuery(Params):
    since: IsoTime = None
    until: IsoTime = None
    format: str = Field("csv", pattern="^(csv|xlsx)$")


class EditFields(Params):
    """The scalar fields of a PATCH besides the edited ones."""

    version: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None


class TransitionFields(Params):
    days: Annotated[int, Field(ge=1, le=366)] | None = None
    version: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None


def _messages(exc: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for err in exc.errors(include_input=False, include_url=False, include_context=False):
        key = ".".join(str(p) for p in err["loc"]) or "_"
        msg = str(err["msg"])
        out.setdefault(key, msg.removeprefix("Value error, "))
    return out


def fields(data: Mapping[str, Any], model: type[M]) -> M:
    """Validate `data` (a body's scalar fields, or a query string) against `model`; 400 when malformed.
    An empty value (``limit=``, a blank form field) is an absent one."""
    try:
        return model.model_validate({k: v for k, v in data.items() if v not in (None, "")})
    except ValidationError as exc:
        raise BadParameters(_messages(exc)) from None


def query(request: Any, model: type[M]) -> M:
    """The request's query string as `model` (the last value of a repeated key)."""
    return fields({k: v for k, v in request.query_params.items()}, model)
