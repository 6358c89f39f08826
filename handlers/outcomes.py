"""What a platform's sender answers for one message, and what a sender is to the worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from handlers.outbound import Outbound
from storage.models import OutboxRow


@dataclass(frozen=True)
class Sent:
    result: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RetryLater:
    error: str
    after: float | None = None  # seconds the platform asked for; None = our backoff


@dataclass(frozen=True)
class Undeliverable:
    error: str


Outcome = Sent | RetryLater | Undeliverable


class Sender(Protocol):
    """Delivers typed messages to one platform (``row`` carries the attempt count)."""

    platform: str

    async def send(self, row: OutboxRow, message: Outbound) -> Outcome: ...
