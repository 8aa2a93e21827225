"""Point the PBX simulator at a daemon config: same AMI user, the agents' phones, the menu's digits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from asterisk.sim.config import AmiUser, EndpointBehaviour, LoadProfile, SimConfig
from callcenter.engine_config import roster_from
from config.models import Config
from ivr.model import Menu, MenuNode, successors

# A busy hotline, not a perfect one: a few agents miss a ring now and then, so the demo shows the
# ACD putting callers back at their place and the connection rate moving under its target.
DEMO_PHONE = EndpointBehaviour(answer_delay=3.0, answer_delay_sigma=0.4, no_answer_rate=0.03, busy_rate=0.01)


TALK_MEDIAN = 120.0


def agents_on_shift(cfg: Config, at: datetime) -> int:
    """Agents the roster has on shift at ``at`` (agents in no team always count)."""
    roster = roster_from(cfg)
    count = 0
    for a in cfg.agents:
        aid = str(a.id)
        if not roster.has_agent(aid) or any(s.start <= at < s.end for s in roster.shifts_around(aid, at)):
            count += 1
    return count


def sim_config_for_daemon(cfg: Config, *, speed: float, seed: int, calls: int,
                          agi_url: str = "agi://127.0.0.1:4573/ivr", now: datetime | None = None) -> SimConfig:
    user = AmiUser(username=cfg.ami.username, secret=cfg.ami.secret)
    # A busy hour: the offered load is about 75 % of the agents on shift in that hour (talk 2 min +
    # wrap-up), so queues form and the connection rate sits near its target instead of at 100 % or
    # collapsing. The simulator's profile is by UTC hour, from the coming 24 hours of the roster.
    wrapup = sum(q.wrapup_seconds for q in cfg.queues) / len(cfg.queues)
    per_agent = 0.75 * 3600 / (TALK_MEDIAN + wrapup + 10)
    hour0 = (now or datetime.now(UTC)).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    rates = [0.0] * 24
    for h in range(24):
        middle = hour0 + timedelta(hours=h, minutes=30)
        rates[middle.hour] = per_agent * max(1, agents_on_shift(cfg, middle))
    load = LoadProfile(hourly_rate=tuple(rates), menu_digits=menu_digit_weights(cfg.ivr_menu()),
                       talk_median=TALK_MEDIAN)
    return SimConfig(
        ami_host="127.0.0.1",
        ami_port=0,
        users=(user,),
        agi_url=agi_url,
        speed=speed,
        seed=seed,
        endpoints={a.endpoint: DEMO_PHONE for a in cfg.agents},
        default_endpoint=DEMO_PHONE,
        load=load,
    )


def menu_digit_weights(menu: Menu) -> dict[str, float]:
    """The first menu a caller meets; earlier choices more likely, halving down the list, as in real
    hotlines where the first option (general enquiries) takes most calls. A flat menu has no digits."""
    seen: set[str] = set()
    todo = [menu.start]
    while todo:
        name = todo.pop(0)
        if name in seen or name not in menu.nodes:
            continue
        seen.add(name)
        node = menu.nodes[name]
        if isinstance(node, MenuNode) and node.choices:
            weights = [0.5**i for i in range(len(node.choices))]
            return {c.digits: w / sum(weights) for c, w in zip(node.choices, weights, strict=True)}
        todo.extend(target for _, target in successors(node))
    return {"1": 1.0}
