"""Callers' numbers and names: the ONE masking policy every path applies (docs/security.md, "Masking").

Every web path that returns a caller's number or name (ticket list, detail, create/edit answers, CSV/XLSX
exports, caller history, the workspace page, the create form, the desk's screen-pop) passes it through this
module, so the rule is decided in one place:

- On the web every role gets the number and name **masked** (``138****8000``, ``张**``) by default.
- The full number and name of one ticket come only from an explicit, audited **reveal**
  (``POST /api/tickets/{number}/reveal``), for the roles in :data:`REVEAL_ROLES`; a department never gets
  the caller of a confidential ticket (保密件), whose caller fields are already ``***``.
- The agent the call is offered to gets the full number on its own MQTT topic
  (``callcenter/agents/<id>/offer``, read only by that agent's login: docs/mqtt.md), so its softphone can call
  back. The web desk shows the same screen-pop with the number masked and the caller-ID name in full (the
  agent is talking to that person and addresses them by it); ID card and mobile numbers in its free text
  (ticket titles) are masked.
This module is pure (no I/O); roles are the strings of callcenter/web/auth.py ``Role``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, TypeVar

#: roles that may reveal one ticket's caller (each reveal goes to the audit log)
REVEAL_ROLES = frozenset({"supervisor", "admin", "department"})
#: the caller fields of a ticket the policy masks
NUMBER_FIELDS = ("caller_number", "contact")
NAME_FIELDS = ("caller_name",)
#: what a redacted (confidential) field shows: never masked further, never revealed
REDACTED = "***"

_MOBILE = re.compile(r"(?<![0-9])(1[3-9][0-9])([0-9]{4})([0-9]{4})(?![0-9])")
# An 18-character resident ID card number (the last may be X): region, birth date, sequence, check.
_ID_CARD = re.compile(
    r"(?<![0-9A-Za-z])([1-9][0-9]{5})((?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])[0-9]{2})([0-9]{3}[0-9Xx])(?![0-9A-Za-z])"
)
# Keys of a JSON tree (screen-pop) whose string value is a phone number ("number" is a ticket's number there).
_NUMBER_KEYS = frozenset({"caller_number", "phone", "callback_number", "contact"})

T = TypeVar("T")


def mask_phone(number: str) -> str:
    """13800138000 -> 138****8000; a landline keeps its first 3 and last 2 digits."""
    digits = number.strip()
    if digits == REDACTED or not digits:
        return digits
    if len(digits) >= 11:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    if len(digits) > 5:
        return digits[:3] + "*" * (len(digits) - 5) + digits[-2:]
    return "*" * len(digits)


def mask_name(name: str) -> str:
    """张三 -> 张*, 李先生 -> 李**: the first character (a Chinese surname) stays, so the agent can address
    the caller; the rest is starred."""
    name = name.strip()
    if name == REDACTED or len(name) <= 1:
        return name if name == REDACTED else "*" * len(name)
    return name[0] + "*" * (len(name) - 1)


def mask_text(text: str) -> str:
    """Free text with ID card numbers and mobile numbers masked."""
    text = _ID_CARD.sub(lambda m: m.group(1) + "*" * 8 + m.group(3), text)
    return _MOBILE.sub(lambda m: m.group(1) + "****" + m.group(3), text)


def looks_masked(value: str) -> bool:
    """A value a page showed masked and a form sent back: never store it as a number."""
    return "*" in value


def may_reveal(role: str) -> bool:
    return role in REVEAL_ROLES


def masked_ticket(ticket: T) -> T:
    """A ticket view (a dataclass with the caller fields) as every web path shows it."""
    changes: dict[str, str] = {}
    for name in NUMBER_FIELDS:
        changes[name] = mask_phone(getattr(ticket, name))
    for name in NAME_FIELDS:
        changes[name] = mask_name(getattr(ticket, name))
    return dataclasses.replace(ticket, **changes)  # type: ignore[type-var]


def revealed_fields(ticket: Any) -> dict[str, str]:
    """What a reveal returns (the ticket view already carries ``***`` where the viewer may never see it)."""
    return {name: getattr(ticket, name) for name in (*NUMBER_FIELDS, *NAME_FIELDS)}


def masked_history(history: dict[str, Any]) -> dict[str, Any]:
    """A caller's history (tickets.history.CallerHistory.to_dict()) as every web path shows it."""
    return {**history, "number": mask_phone(str(history.get("number", "")))}


def _masked_tree(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _masked_tree(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked_tree(v, key) for v in value]
    if isinstance(value, str):
        return mask_phone(value) if key in _NUMBER_KEYS else mask_text(value)
    return value


def screen_pop_for_web(payload: Any) -> Any:
    """The desk's screen-pop (SSE) for its agent: numbers, and numbers in free text, masked."""
    return _masked_tree(payload)


def screen_pop_for_own_agent(payload: T) -> T:
    """The offer on the agent's own MQTT topic: in full (its softphone calls back; the broker's ACL lets only
    that agent read it)."""
    return payload
