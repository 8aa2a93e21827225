"""The daemon's FastAGI server: sans-IO protocol (``protocol``), per-channel ``AgiSession``, ``AgiServer``."""

from asterisk.agi.protocol import (
    AgiCommandError,
    AgiError,
    AgiHangup,
    AgiIdleTimeout,
    AgiParser,
    AgiProtocolError,
    AgiReply,
    parse_reply,
    quote,
    split_command,
)
from asterisk.agi.server import AgiHandler, AgiServer, AgiServerStats
from asterisk.agi.session import AgiSession

__all__ = [
    "AgiCommandError",
    "AgiError",
    "AgiHandler",
    "AgiHangup",
    "AgiIdleTimeout",
    "AgiParser",
    "AgiProtocolError",
    "AgiReply",
    "AgiServer",
    "AgiServerStats",
    "AgiSession",
    "parse_reply",
    "quote",
    "split_command",
]
