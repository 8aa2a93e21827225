"""A log line that a flood cannot multiply: at most one per ``every`` seconds, carrying how many were held back.

A peer that sends junk on purpose (or a broken one) must not be able to fill the disk through our log: the
counters in /metrics hold every occurrence, the log shows that it happens and a sample. ``shorten`` cuts a
sample to a readable size and blanks the values of headers that may carry a secret.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable

#: header names whose value is never logged, whatever the peer put there (AMI Login, Setvar of a password...)
_SECRET_NAME = re.compile(r"secret|password|passwd|token|key|auth", re.IGNORECASE)


def sample(headers: Iterable[tuple[str, str]], limit: int = 200) -> str:
    """A frame's headers on one line for a log: secret-looking values blanked, cut to ``limit`` characters."""
    text = "; ".join(f"{k}: {'***' if _SECRET_NAME.search(k) else v}" for k, v in headers)
    text = text.replace("\r", " ").replace("\n", " ")
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


class RateLimitedLog:
    """``warn(fmt, *args)`` logs at most once per ``every`` seconds; the next line says how many were held."""

    def __init__(self, logger: logging.Logger, every: float = 60.0, *, level: int = logging.WARNING,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger, self.every, self.level, self.clock = logger, every, level, clock
        self.suppressed = 0  # held back since the last line written
        self._last: float | None = None

    def warn(self, fmt: str, *args: object) -> bool:
        """Log now if the last line is ``every`` seconds old; else count it. True when it was written."""
        now = self.clock()
        if self._last is not None and now - self._last < self.every:
            self.suppressed += 1
            return False
        self._last = now
        if self.suppressed:
            fmt += " (%d more like it in the last %.0f s not logged)"
            args = (*args, self.suppressed, self.every)
            self.suppressed = 0
        self.logger.log(self.level, fmt, *args)
        return True
