"""Checks for the numbers a caller types: phone numbers, resident ID numbers, ticket numbers. Pure.

- Phone: a mainland mobile (11 digits, 1[3-9]...), or a fixed line with its area code (0 + 2-3 digit area
  code + 7-8 digit number, 10-12 digits), or a local fixed line (7-8 digits, not starting with 0 or 1).
- ID number: GB 11643-1999 citizen identity number, 18 characters, the last a check character computed
  with ISO 7064 MOD 11-2 (weights 2^(17-i) mod 11, check = (12 - sum mod 11) mod 11, 10 written X).
  On a phone keypad the caller presses ``*`` for X.
- Ticket number (工单号): digits whose last one is a Luhn check digit (ISO/IEC 7812), so one mistyped
  digit or two swapped neighbours are caught before an agent looks the ticket up.
"""

from __future__ import annotations

import re
from datetime import date

_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_FIXED_WITH_AREA = re.compile(r"^0[1-9][0-9]{1,2}[2-9][0-9]{6,7}$")
_FIXED_LOCAL = re.compile(r"^[2-9][0-9]{6,7}$")

_ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_ID_CHECK = "10X98765432"  # index: sum mod 11


def valid_phone(digits: str) -> bool:
    return bool(_MOBILE.match(digits) or _FIXED_WITH_AREA.match(digits) or _FIXED_LOCAL.match(digits))


def id_check_char(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("need the first 17 digits of an ID number")
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def normalize_id(keys: str) -> str:
    """Keypad entry -> ID number: a final ``*`` is the check character X."""
    return keys[:-1] + "X" if keys.endswith("*") else keys


def valid_id_number(keys: str) -> bool:
    """An 18-character GB 11643 number (typed with ``*`` for X): right length, a real birth date,
    and the right check character."""
    number = normalize_id(keys)
    if len(number) != 18 or not number[:17].isdigit():
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if born.year < 1900:
        return False
    return id_check_char(number[:17]) == number[17]


def luhn_check_digit(body: str) -> str:
    """The Luhn digit to append to ``body`` (all digits)."""
    if not body.isdigit():
        raise ValueError("a Luhn body is digits only")
    total = 0
    for i, char in enumerate(reversed(body)):
        d = int(char)
        if i % 2 == 0:  # these get doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def valid_ticket(digits: str, *, min_length: int = 6) -> bool:
    """Digits ending in their Luhn check digit, at least ``min_length`` long."""
    if len(digits) < min_length or not digits.isdigit():
        return False
    return luhn_check_digit(digits[:-1]) == digits[-1]


def check_entry(kind: str, keys: str) -> str | None:
    """The entry as stored (ID numbers with X), or None when it is not a valid ``kind``."""
    if kind == "phone":
        return keys if valid_phone(keys) else None
    if kind == "id_number":
        return normalize_id(keys) if valid_id_number(keys) else None
    if kind == "ticket":
        return keys if valid_ticket(keys) else None
    if kind == "digits":
        return keys if keys.isdigit() else None
    raise ValueError(f"unknown entry kind {kind!r}")
