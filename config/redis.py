"""Redis, used on the request path for the API rate limit and the cache, and as the
Celery broker: none of it may take the API down. Every use fails open:

- short socket and connect timeouts (REDIS_SOCKET_TIMEOUT), so a Redis that is gone
  costs a refused connection and one that silently drops packets costs a fraction
  of a second rather than the five seconds a request used to wait;
- a `Breaker` per dependency: after a failure this process skips it for
  REDIS_RETRY_SECONDS, so a hung Redis costs one timeout per process in that time,
  not one per request; the failure is logged once per opening, with a dotted name;
- callers treat "unavailable" as "no limit counted", "cache miss", "not published".
  Work that could not be published is found again from the database by beat
  (config/queue.py says where)."""

from __future__ import annotations

import logging
import threading
import time
from functools import cache

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

# What a Redis that is down, refusing or hung raises through redis-py.
REDIS_ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, OSError)


class Breaker:
    """Skip a dependency for a while after it failed (per process)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.open_until = 0.0
        self.lock = threading.Lock()

    def available(self) -> bool:
        return time.monotonic() >= self.open_until

    def failed(self, error: BaseException) -> None:
        with self.lock:
            first = self.available()
            self.open_until = time.monotonic() + settings.REDIS_RETRY_SECONDS
        if first:
            logger.warning(
                "config.redis_unavailable dependency=%s error=%s retry_in=%ss",
                self.name,
                f"{type(error).__name__}: {error}"[:300],
                settings.REDIS_RETRY_SECONDS,
            )


def no_retry() -> Retry:
    """redis-py retries a failed connection three times with backoff by default (five
    seconds against a Redis that is gone); the callers here fail open instead."""
    return Retry(NoBackoff(), 0)


RATE_LIMIT = Breaker("rate_limit")
CACHE = Breaker("cache")
BROKER = Breaker("broker")


@cache
def get_redis() -> redis.Redis:
    """The client for counters and rate limits (the cache's server, its own pool)."""
    location = str(settings.CACHES["default"]["LOCATION"])
    return redis.Redis.from_url(
        location,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
        socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
        retry=no_retry(),
    )
