"""The sans-IO IVR: menu model, interpreter and static validation.

The AGI adapter lives in ``ivr.over_agi`` (it needs the asyncio AGI session, so it is not imported here).
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
    Play,
    Played,
    SetVar,
    Step,
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
    "Step",
    "Timeout",
    "check",
    "validate",
]
