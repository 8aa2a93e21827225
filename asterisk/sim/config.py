"""Typed configuration of the PBX simulator (pydantic, validated once)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

#: AMI permission classes Asterisk 22 knows (manager.conf read/write).
PERMISSION_CLASSES = frozenset(
    {
        "system",
        "call",
        "log",
        "verbose",
        "command",
        "agent",
        "user",
        "config",
        "dtmf",
        "reporting",
        "cdr",
        "dialplan",
        "originate",
        "agi",
        "cc",
        "aoc",
        "test",
        "security",
        "message",
        "all",
    }
)


class AmiUser(BaseModel):
    """One manager.conf user. The secret never shows in a repr or a log."""

    model_config = ConfigDict(frozen=True)

    username: str
    secret: SecretStr
    read: tuple[str, ...] = ("all",)
    write: tuple[str, ...] = ("all",)
    #: manager.conf ``eventfilter`` lines: ``!regex`` drops matching events, ``regex`` keeps only matches.
    eventfilter: tuple[str, ...] = ()

    @field_validator("read", "write")
    @classmethod
    def _known_classes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in value if c not in PERMISSION_CLASSES]
        if unknown:
            raise ValueError(
                f"unknown AMI permission class(es) {unknown}; expected some of {sorted(PERMISSION_CLASSES)}"
            )
        return value


class EndpointBehaviour(BaseModel):
    """How a simulated agent phone reacts when dialled (decided per offer, seeded)."""

    model_config = ConfigDict(frozen=True)

    answer_delay: float = Field(default=2.0, ge=0, description="median seconds of ringing before answer")
    answer_delay_sigma: float = Field(default=0.3, ge=0, description="lognormal sigma of the answer delay")
    no_answer_rate: float = Field(default=0.0, ge=0, le=1)
    busy_rate: float = Field(default=0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _rates(self) -> EndpointBehaviour:
        if self.no_answer_rate + self.busy_rate > 1:
            raise ValueError("no_answer_rate + busy_rate must not exceed 1")
        return self


class CallScript(BaseModel):
    """What one synthetic caller does. Times are simulated seconds."""

    model_config = ConfigDict(frozen=True)

    caller: str
    caller_name: str = ""
    #: one entry per input the IVR asks for (GET DATA takes a whole entry, WAIT FOR DIGIT one digit);
    #: '#' ends a GET DATA entry like a real keypad.
    dtmf: tuple[str, ...] = ()
    #: seconds after an input command starts before the caller presses the first key
    dtmf_delay: float = Field(default=1.0, ge=0)
    #: seconds the caller waits for an agent (from arrival) before hanging up
    patience: float = Field(default=120.0, gt=0)
    #: seconds of conversation once an agent answers
    talk: float = Field(default=60.0, ge=0)
    #: who ends the conversation: False = the agent (then the survey runs), True = the caller
    caller_hangs_up: bool = False
    #: digits given to the after-call survey, if it asks
    survey: tuple[str, ...] = ()
    #: arrival, seconds after the load started (only used by run_load)
    arrival: float = Field(default=0.0, ge=0)
    #: the place the caller names to the agent (a 小区, a road); '' for none (surges set it)
    place: str = ""

    @field_validator("dtmf", "survey", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return (value,) if value else ()
        return value


class LoadProfile(BaseModel):
    """Synthetic traffic: Poisson arrivals with an hourly profile and caller behaviour distributions."""

    model_config = ConfigDict(frozen=True)

    #: calls per hour for each hour of the day (24 values, simulated clock, UTC)
    hourly_rate: tuple[float, ...] = (
        20,
        12,
        8,
        6,
        6,
        10,
        30,
        80,
        160,
        220,
        240,
        220,
        180,
        200,
        230,
        220,
        200,
        170,
        130,
        100,
        80,
        60,
        40,
        30,
    )
    #: how likely each menu choice is (digits as the caller types them)
    menu_digits: dict[str, float] = Field(default_factory=lambda: {"1": 0.45, "2": 0.3, "3": 0.15, "0": 0.1})
    #: share of callers that type nothing at the menu
    no_input_rate: float = Field(default=0.05, ge=0, le=1)
    dtmf_delay_median: float = Field(default=1.5, gt=0)
    patience_median: float = Field(default=90.0, gt=0)
    patience_sigma: float = Field(default=0.6, ge=0)
    patience_min: float = Field(default=5.0, gt=0)
    talk_median: float = Field(default=180.0, gt=0)
    talk_sigma: float = Field(default=0.5, ge=0)
    caller_hangs_up_rate: float = Field(default=0.3, ge=0, le=1)
    #: share of calls from a number that called before
    repeat_caller_rate: float = Field(default=0.15, ge=0, le=1)
    #: share of callers whose caller-ID name is sent (a Chinese name)
    chinese_name_rate: float = Field(default=0.3, ge=0, le=1)
    survey_digits: dict[str, float] = Field(default_factory=lambda: {"1": 0.6, "2": 0.25, "3": 0.15})
    #: bursts played on top of the ordinary load
    surges: tuple[Surge, ...] = ()

    @field_validator("hourly_rate")
    @classmethod
    def _hours(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if len(value) != 24 or any(v < 0 for v in value) or not any(v > 0 for v in value):
            raise ValueError("hourly_rate needs 24 non-negative rates, at least one positive")
        return value


class Surge(BaseModel):
    """A burst on top of the ordinary load (asterisk/sim/load.py), e.g. a power cut: ``calls`` extra calls
    in ``minutes`` from one ``place``, ``topic_share`` of them choosing the menu digit ``digit``."""

    model_config = ConfigDict(frozen=True)

    start: float = Field(ge=0, description="seconds after the load starts")
    minutes: float = Field(default=20.0, gt=0)
    calls: int = Field(default=300, ge=1)
    place: str = "阳光花园"
    digit: str = "1"
    topic_share: float = Field(default=0.8, ge=0, le=1)
    #: seconds over which the rate rises linearly to its plateau (people notice the outage one by one)
    ramp: float = Field(default=300.0, ge=0)


def _default_users() -> tuple[AmiUser, ...]:
    return (AmiUser(username="cc", secret=SecretStr("ccsecret")),)


class SimConfig(BaseModel):
    """Everything the simulator needs. ``ami_port=0`` picks an ephemeral port."""

    model_config = ConfigDict(frozen=True)

    ami_host: str = "127.0.0.1"
    ami_port: int = Field(default=5038, ge=0, le=65535)
    #: AMI over TLS as manager.conf's tlsenable/tlscertfile/tlsprivatekey set it (PEM paths); None: plain TCP
    ami_tls_cert: str | None = None
    ami_tls_key: str | None = None
    users: tuple[AmiUser, ...] = Field(default_factory=_default_users)
    agi_url: str = "agi://127.0.0.1:4573/ivr"
    #: more FastAGI servers ("host:port") tried in order when agi_url's refuses the connection, as Asterisk's
    #: hagi:// does with the targets of its DNS SRV record (a hot standby's nodes: only the leader listens)
    agi_more: tuple[str, ...] = ()
    speed: float = Field(default=1.0, gt=0)
    seed: int = 0
    #: simulated clock origin (UTC); None = the wall clock when the simulator starts
    start: datetime | None = None
    #: the trunk endpoint the citizens' calls arrive on (channel PJSIP/<trunk>-0000000n)
    trunk: str = "trunk"
    #: the hotline number dialled (DNID)
    dnid: str = "12345"
    endpoints: dict[str, EndpointBehaviour] = Field(default_factory=dict)
    default_endpoint: EndpointBehaviour = Field(default_factory=lambda: EndpointBehaviour())
    load: LoadProfile = Field(default_factory=lambda: LoadProfile())
    #: scripted calls for run_load (empty: generate from ``load``)
    calls: tuple[CallScript, ...] = ()
    ring_timeout: float = Field(default=15.0, gt=0, description="CC_RING_TIMEOUT default")
    hold_max: float = Field(default=600.0, gt=0, description="CC_HOLD_MAX default")
    #: seconds a caller stays in [cc-fallback] (Asterisk's own queue) before the simulator ends the call
    fallback_wait: float = Field(default=30.0, ge=0)
    #: members (agent endpoints) of that queue, rung as app_queue does (ringinuse=no, round robin, retry 1 s);
    #: empty: the caller just waits ``fallback_wait``
    fallback_members: tuple[str, ...] = ()
    #: call control: simulated seconds a department talks after a transfer, the emergency line takes to
    #: answer a hand-off, and the agent briefs it before completing the attended transfer
    transfer_talk: float = Field(default=60.0, ge=0)
    handoff_answer: float = Field(default=2.0, ge=0)
    handoff_brief: float = Field(default=5.0, ge=0)
    #: seconds an agent and a citizen called back ([cc-callback-dial]) talk
    callback_talk: float = Field(default=30.0, ge=0)
    #: length of a sound file played by STREAM FILE / GET DATA, per name, and the default
    prompt_seconds: float = Field(default=2.0, ge=0)
    prompt_lengths: dict[str, float] = Field(default_factory=dict)
    #: Asterisk's sounds folder: a prompt plays only when a file for it is there (as ast_openstream finds it:
    #: <dir>/<language>/<name>.<ext>, then <dir>/<name>.<ext>). None: every prompt exists, as after
    #: ``callcenter prompts build``. ``missing_prompts`` are missing either way.
    sounds_dir: str | None = None
    missing_prompts: frozenset[str] = frozenset()
    emit_cdr: bool = True
    #: append CDRs to this Master.csv as Asterisk's cdr_csv does (asterisk/sim/cdr.py); None: no file
    cdr_csv: str | None = None
    emit_cel: bool = False
    #: Asterisk answers a failed Login after about 1 s (scaled by speed, at least 0.05 s real)
    login_failure_delay: float = Field(default=1.0, ge=0)
    #: real seconds the FastAGI server may keep talking to a dead channel before we close
    agi_dead_timeout: float = Field(default=2.0, gt=0)

    @field_validator("agi_url")
    @classmethod
    def _agi_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme != "agi" or not parts.hostname:
            raise ValueError(f"agi_url must look like agi://host:port/script, got {value!r}")
        return value

    def has_sound(self, name: str, language: str = "") -> bool:
        if name in self.missing_prompts:
            return False
        if self.sounds_dir is None:
            return True
        root = Path(self.sounds_dir)
        bases = ([root / language] if language else []) + [root]
        return any(base.joinpath(name).parent.is_dir() and any(base.glob(f"{name}.*")) for base in bases)

    def endpoint(self, dial: str) -> EndpointBehaviour:
        return self.endpoints.get(dial, self.default_endpoint)
