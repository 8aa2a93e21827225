"""The centre and its connections: Asterisk (AMI, AGI, CDR), database, MQTT, web, users, Twilio."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator

from config.models.base import Language, NumberOrStr, Port, Secret, Section, Text, TimeZoneName, number_to_str

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
    # Seconds a FastAGI peer may stay silent beyond a command's own wait (a GET DATA's timeout, a Record's
    # length): covers the longest prompt (2 min) plus 30 s. Then the connection is closed and counted.
    idle_timeout_seconds: float = Field(default=150.0, gt=0, le=3600)
    # FastAGI connections open at once; one more is closed at once and counted (the caller gets the fallback).
    max_connections: int = Field(default=500, ge=1, le=100_000)


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
    kept in Mosquitto's password file, never here: deploy/mosquitto/ holds the broker config and the ACL
    that lets agent 1001 read only callcenter/agents/1001/# (docs/mosquitto-acl.md)."""

    host: str = "127.0.0.1"
    port: Port = 1883
    username: NumberOrStr | None = None
    password: Secret | None = None
    #: a file (0600) whose first line is the password, e.g. a systemd credential; instead of `password`
    password_file: str | None = Field(default=None, min_length=1)
    topic_prefix: str = Field(default="callcenter", pattern=r"^[A-Za-z0-9_/-]+$")

    @model_validator(mode="after")
    def _one_password(self) -> MqttConfig:
        if self.password is not None and self.password.get_secret_value() and self.password_file:
            raise ValueError("set password or password_file, not both")
        return self


class WebConfig(Section):
    host: str = "127.0.0.1"
    port: Port = 8080
    # Signs the session cookies of the agent desktop and admin pages (32+ random characters, e.g.
    # ${CALLCENTER_SESSION_SECRET}). Unset: a random one per start, so a restart signs everyone out.
    session_secret: Secret | None = None
    session_hours: float = Field(default=12, gt=0, le=24 * 7)
    cookie_secure: bool = False  # True behind HTTPS: the session cookie is then never sent over plain HTTP
    max_body: int = Field(default=64 * 1024, ge=1024, le=64 * 1024 * 1024)  # bytes; a longer request body gets 413
    # An agent whose desk page sent no heartbeat for this long is made not ready (reason desk_offline).
    desk_heartbeat_seconds: float = Field(default=45, ge=5, le=3600)
    # Reverse proxies (addresses or networks, e.g. 10.0.0.5 or 10.0.0.0/24) whose X-Forwarded-For names the
    # client. Empty: the header is ignored and the peer's address counts (sign-in throttling, logs).
    trusted_proxies: list[str] = Field(default_factory=list, max_length=64)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"not an IP address or network: {item[:64]!r}") from None
        return value

    @field_validator("session_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("session_secret must be at least 32 characters")  # never echo the value
        return value


UserRole = Literal["agent", "supervisor", "admin", "department"]
_PHC_HASH = re.compile(r"^\$argon2(id|i|d)\$v=[0-9]+\$m=[0-9]+,t=[0-9]+,p=[0-9]+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$")


def _check_hash(value: Any) -> Any:
    value = number_to_str(value)
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
    #: a supervisor's own phone (a dial string, e.g. PJSIP/9001): listen / whisper / barge ring it first
    endpoint: str | None = Field(default=None, pattern=r"^[^\s,]+$")

    @model_validator(mode="after")
    def _role_links(self) -> UserConfig:
        if self.role == "agent" and self.agent_id is None:
            raise ValueError("an agent user needs agent_id")
        if self.role == "department" and self.department is None:
            raise ValueError("a department user needs department")
        return self


class SecurityConfig(Section):
    """Personal information (个人信息保护法, docs/security.md): how long callers' numbers and names are kept."""

    #: days after a call (or a ticket's closing) that the caller's number and name are kept; then the daily
    #: retention job masks them in call records, closed tickets, the audit log and the spools
    retention_days: int = Field(default=180, ge=1, le=3650)


class IncidentsConfig(Section):
    """Surge detection (docs/surge.md): where a call comes from, by the caller's number and by the words of
    its first ticket fields. Empty: areas come only from the IVR, places only from jieba's place words."""

    # Landline prefix (area code and exchange digits) -> area; the longest prefix wins. Mobile numbers say
    # no place, so list landline prefixes only, e.g. "057188": 拱墅区.
    number_areas: dict[Annotated[str, Field(pattern=r"^[0-9]{3,12}$")], Text] = Field(default_factory=dict)
    # The centre's own place names (estates, roads, townships) -> the aliases callers and agents use.
    gazetteer: dict[Text, list[Text]] = Field(default_factory=dict)


class CallbacksConfig(Section):
    """Callbacks (预约回电) dialled out: the agent's phone first (AMI Originate), then the citizen through
    ``trunk`` in the dialplan's [cc-callback-dial]; ``{number}`` in ``trunk`` is the citizen's number."""

    trunk: str = Field(default="PJSIP/{number}@trunk", pattern=r"\{number\}")
    attempts: int = Field(default=3, ge=1, le=10)
    interval_seconds: float = Field(default=600.0, ge=0)  # between two attempts
    ring_seconds: int = Field(default=30, ge=5, le=120)  # how long the citizen's phone rings
    agent_ring_seconds: int = Field(default=15, ge=5, le=120)  # how long the agent's phone rings
    # Local times (centre.timezone) between which citizens are called; outside, callbacks wait.
    hours: tuple[str, str] = ("08:00", "20:00")
    caller_id: str = "12345"
    context: str = "cc-callback-dial"

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: tuple[str, str]) -> tuple[str, str]:
        for t in v:
            if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", t):
                raise ValueError(f"{t!r}: a time of day as HH:MM")
        if v[0] >= v[1]:
            raise ValueError("the first time must be before the second")
        return v


class TwilioConfig(Section):
    """Twilio voice webhooks serving the same menu as TwiML. The auth token signs every request."""

    auth_token: Secret
    #: the URL Twilio calls (behind a proxy the request's own URL differs); none: the request URL
    public_url: str | None = Field(None, pattern=r"^https?://[^\s]+$")
    #: where the prompts' sound files are served (<Play> {base}/{file}.wav); none: <Say> the prompt text
    sound_base_url: str | None = Field(None, pattern=r"^https?://[^\s]+$")
