"""The AMI client's errors (asterisk/ami/client.py re-exports them): what failed, never the secret."""

from __future__ import annotations

from asterisk.ami.codec import AmiProtocolError, Message


class AmiConnectionError(AmiProtocolError):
    """The connection failed or was lost (the reconnect loop handles it)."""


class AmiNotConnected(AmiConnectionError):
    """No logged-in connection, or it was lost while an action waited."""


class AmiFenced(AmiNotConnected):
    """This node may not change calls now (a hot standby, or a leader past its lease): see ``AmiClient.guard``."""


class AmiAuthError(AmiConnectionError):
    """Login refused ('Authentication failed')."""


class AmiTimeout(AmiProtocolError):
    def __init__(self, action: str, action_id: str, timeout: float) -> None:
        super().__init__(f"AMI action {action} ({action_id}) got no answer within {timeout:g} s")
        self.action = action
        self.action_id = action_id


class AmiActionError(AmiProtocolError):
    """``Response: Error``; ``.message`` is Asterisk's Message text."""

    def __init__(self, action: str, response: Message) -> None:
        self.action = action
        self.response = response
        self.message = response.get("Message") or ""
        super().__init__(f"AMI action {action} failed: {self.message}")
