"""The sans-IO IVR: menu model, interpreter and static validation.

Imports go one way: the IVR imports nothing of the project outside ``ivr``.
The AGI adapter lives in ``asterisk.agi.ivr`` (it needs the asyncio AGI session), the menu as the daemon
runs it (versions, hot reload, survey) in ``callcenter.ivr_service``, and the YAML schema that builds a
``Menu`` in ``config.models.ivr`` with ``config.menu`` loading a menu file: config imports ivr, never the
reverse.
"""

from ivr.interpreter import (
    CallData,
    Collect,
    Digits,
    Enqueue,
    Hangup,
    HangupCall,
    IvrCommand,
    IvrError,
    IvrEvent,
    IvrRun,
    IvrStep,
    Play,
    Played,
    SetVar,
    Timeout,
)
from ivr.model import (
    Choice,
    EnqueueNode,
    HangupNode,
    IvrModelError,
    Menu,
    MenuNode,
    Node,
    PlayNode,
    Prompt,
    PromptFile,
    SetNode,
)
from ivr.validate import IvrIssue, check, validate

__all__ = [
    "CallData",
    "Choice",
    "Collect",
    "Digits",
    "Enqueue",
    "EnqueueNode",
    "Hangup",
    "HangupCall",
    "HangupNode",
    "IvrCommand",
    "IvrError",
    "IvrEvent",
    "IvrIssue",
    "IvrModelError",
    "IvrRun",
    "IvrStep",
    "Menu",
    "MenuNode",
    "Node",
    "Play",
    "PlayNode",
    "Played",
    "Prompt",
    "PromptFile",
    "SetNode",
    "SetVar",
    "Timeout",
    "check",
    "validate",
]
