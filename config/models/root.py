"""The whole file: ``Config`` (one field per section) and ``cross_check``, the links between sections."""

from __future__ import annotations

from pydantic import Field, model_validator

from config.models.base import Section
from config.models.ha import HaConfig
from config.models.ivr import IvrConfig, ivr_issues
from config.models.pbx import PbxConfig, pbx_issues, pbxs_alias
from config.models.services import (
    AgiConfig,
    AmiConfig,
    CallbacksConfig,
    CdrConfig,
    CentreConfig,
    DatabaseConfig,
    IncidentsConfig,
    MqttConfig,
    SecurityConfig,
    TwilioConfig,
    UserConfig,
    WebConfig,
)
from config.models.staff import (
    AgentConfig,
    HolidaysConfig,
    QueueConfig,
    ShiftConfig,
    ShiftRulesConfig,
    StaffingConfig,
    TeamConfig,
)
from config.yamlsource import Loc, SourceIssue
from ivr.model import Menu
from tickets.settings import TicketsConfig

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
    #: several Asterisk servers (docs/scale.md); empty: one, called "main", from ``ami``/``agi``/``cdr``
    pbxs: list[PbxConfig] = Field(default_factory=list)
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
    security: SecurityConfig = SecurityConfig()
    incidents: IncidentsConfig = IncidentsConfig()
    callbacks: CallbacksConfig = CallbacksConfig()
    ha: HaConfig | None = None

    _pbxs_alias = model_validator(mode="before")(pbxs_alias)

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

    def pbx_list(self) -> list[PbxConfig]:
        """The PBXs the daemon connects to: ``pbxs``, or the one of ``ami``/``agi``/``cdr`` named "main"."""
        return list(self.pbxs) or [PbxConfig(name="main", ami=self.ami, agi=self.agi, cdr=self.cdr)]

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
    # The same extension may exist on two PBXs: an endpoint is unique on its PBX.
    issues += _duplicates([a.endpoint + (f" on {a.pbx}" if a.pbx else "") for a in config.agents], "agents",
                          "endpoint")
    issues += pbx_issues(config.pbxs, [a.pbx for a in config.agents])
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
    if config.ha is not None and config.database.url.startswith("sqlite"):
        issues.append(SourceIssue(("ha",), "hot standby needs PostgreSQL: with SQLite (database.url) only one node "
                                          "can run; remove the ha section or use postgresql+psycopg://"))
    if config.ivr is not None:
        issues += ivr_issues(config.ivr, known, config.known_skills() if config.agents else None,
                             (config.centre.language,))
    return issues
