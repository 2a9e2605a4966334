"""API authentication (Bearer API keys), the workspace permission and per-key limits."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.request import Request

from config.redis import get_redis
from workspaces.models import ApiKey, Workspace
from workspaces.services import Actor, api_key_authenticate


class ApiRequest(Request):
    """An API request after ApiKeyAuthentication: the key's workspace and actor."""

    workspace: Workspace
    actor: Actor
    auth: ApiKey


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <secret>`. Sets request.auth to the ApiKey and
    request.workspace to its workspace; request.user stays None."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0] != self.keyword:
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <api key>'.")
        key = api_key_authenticate(parts[1])
        if key is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
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

    window = 60

    def allow_request(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return True
        limit = key.rate_limit_per_minute or settings.API_KEY_RATE_LIMIT_PER_MINUTE
        now = time.time()
        window_start = int(now // self.window) * self.window
        counter = f"ratelimit:apikey:{key.pk}:{window_start}"
        pipe = get_redis().pipeline()
        pipe.incr(counter)
        pipe.expire(counter, self.window + 5)
        count = pipe.execute()[0]
        self._wait = max(1.0, window_start + self.window - now)
        return int(count) <= limit

    def wait(self) -> float:
        return getattr(self, "_wait", float(self.window))
