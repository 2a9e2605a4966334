"""One Redis client per process for counters and rate limits (the cache goes through
Django's cache framework; Celery has its own connections)."""

from __future__ import annotations

from functools import cache

import redis
from django.conf import settings


@cache
def get_redis() -> redis.Redis:
    location = settings.CACHES["default"]["LOCATION"]
    return redis.Redis.from_url(location, socket_timeout=5, socket_connect_timeout=5)
