"""What every provider speaks: an `Outgoing` message in, a `Result` out, through
`send(batch, on_result)`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

# The metadata key a send gives an ESP so that its tracking webhooks name the workspace.
WORKSPACE_METADATA = "stagecraft_workspace"


@dataclass
class Outgoing:
    message_id: int
    uuid: str  # the idempotency key providers see
    workspace_id: int
    channel: str
    to: str
    from_address: str
    subject: str = ""
    html: str = ""
    text: str = ""
    reply_to: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Result:
    ok: bool
    provider_message_id: str = ""
    # Not ok: transient errors are retried later, permanent ones fail the message.
    transient: bool = False
    retry_after: float | None = None
    error: str = ""
    # The address or number itself is bad (hard bounce, invalid number): suppress it.
    invalid_recipient: bool = False


OnResult = Callable[[Outgoing, Result], None]


class Provider(Protocol):
    name: str

    def send(self, batch: list[Outgoing], on_result: OnResult) -> None: ...
