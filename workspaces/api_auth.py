"""API authentication (Bearer API keys), the workspace permission and per-key limits."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.request import Request

from config.redis import RATE_LIMIT, REDIS_ERRORS, get_redis
from workspaces.models import ApiKey, Workspace
from workspaces.services import Actor, api_key_authenticate


class ApiRequest(Request):
    """An API request after ApiKeyAuthentication: the key's workspace and actor."""

    workspace: Workspace
    actor: Actor
    auth: ApiKey


def bearer_key(header: str) -> ApiKey | None:
    """The key an `Authorization` header names; None without a header; raises
    AuthenticationFailed for a malformed header or an unknown or revoked key."""
    if not header:
        return None
    parts = header.split()
    if len(parts) != 2 or parts[0] != "Bearer":
        raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <api key>'.")
    key = api_key_authenticate(parts[1])
    if key is None:
        raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
    return key


WINDOW_SECONDS = 60
# INCRBY, and give the counter its expiry when it is new: one round trip, one command.
_COUNT_SCRIPT = """
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
if count == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return count
"""
# A busy key's requests are counted here and added to Redis in small batches: a round
# trip per request would be a tenth of a single-event request's cost. Far from its
# limit a key may run LOCAL_BATCH requests per process ahead of Redis; within 20% of
# it (and for limits under 1000 a minute) every request goes to Redis, so the limit
# holds exactly where it matters.
LOCAL_BATCH = 20
LOCAL_SECONDS = 0.25


@dataclass
class _Window:
    start: int
    counted: int = 0  # what Redis said the whole installation has used
    pending: int = 0  # counted here, not yet added to Redis
    flushed_at: float = 0.0


_windows: dict[int, _Window] = {}
_windows_lock = threading.Lock()
_count: Any = None


def rate_limit_wait(key: ApiKey) -> float | None:
    """Count one request against the key's per-minute limit, a fixed window shared
    through Redis. Returns None when allowed, else the seconds until the window ends."""
    global _count
    limit = key.rate_limit_per_minute or settings.API_KEY_RATE_LIMIT_PER_MINUTE
    now = time.time()
    start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
    with _windows_lock:
        window = _windows.get(key.pk)
        if window is None or window.start != start:
            window = _windows[key.pk] = _Window(start=start)
        window.pending += 1
        close = limit < 1000 or window.counted + window.pending >= 0.8 * limit
        flush = close or window.pending >= LOCAL_BATCH or now - window.flushed_at > LOCAL_SECONDS
        if flush and RATE_LIMIT.available():
            if _count is None:
                _count = get_redis().register_script(_COUNT_SCRIPT)
            try:
                window.counted = int(
                    _count(
                        keys=[f"ratelimit:apikey:{key.pk}:{start}"],
                        args=[window.pending, WINDOW_SECONDS + 5],
                    )
                )
                window.pending, window.flushed_at = 0, now
            except REDIS_ERRORS as error:
                # Fail open: without Redis this process still counts its own
                # requests (the limit holds per process), and ingest goes on.
                RATE_LIMIT.failed(error)
        used = window.counted + window.pending
    if used <= limit:
        return None
    return max(1.0, start + WINDOW_SECONDS - now)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <secret>`. Sets request.auth to the ApiKey and
    request.workspace to its workspace; request.user stays None."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        key = bearer_key(request.META.get("HTTP_AUTHORIZATION", ""))
        if key is None:
            return None
        request.workspace = key.workspace  # type: ignore[attr-defined]
        request.actor = Actor(api_key=key)  # type: ignore[attr-defined]
        return (None, key)

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "workspaces.api_auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer"}


class HasWorkspace(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if getattr(request, "workspace", None) is None:
            raise exceptions.NotAuthenticated("Send 'Authorization: Bearer <api key>'.")
        return True


class ApiKeyRateThrottle(throttling.BaseThrottle):
    """A fixed one-minute window per key, counted in Redis. Refused requests get 429
    with Retry-After: the seconds left in the window."""

    def allow_request(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return True
        self._wait = rate_limit_wait(key)
        return self._wait is None

    def wait(self) -> float:
        return self._wait or float(WINDOW_SECONDS)
