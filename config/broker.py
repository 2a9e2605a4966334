"""The Celery broker transport for Redis: kombu's, with redis-py's retries off.

redis-py retries a failed connection three times with exponential backoff by default
(about five seconds against a Redis that is gone): a request publishing a task would
wait that long. Celery and config/queue.py decide themselves what to retry."""

from __future__ import annotations

from typing import Any

from kombu import transport
from kombu.transport import redis as kombu_redis

from config.redis import no_retry


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> Any:
        params = super()._connparams(asynchronous)  # type: ignore[misc]
        params["retry"] = no_retry()
        return params


class Transport(kombu_redis.Transport):
    Channel = Channel


def use_for_redis_urls() -> None:
    """Make redis:// and redis+socket:// broker URLs use this transport (kombu's
    documented way to plug a transport in)."""
    transport.TRANSPORT_ALIASES["redis"] = "config.broker:Transport"
