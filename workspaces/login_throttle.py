"""Login throttling with django-axes: the callables its settings name (who is logging
in, from where, what a locked-out person sees) and what a lockout records.

Axes counts failed log-ins in PostgreSQL per account and per address
(settings.AXES_LOCKOUT_PARAMETERS) for the dashboard's /login/ and the admin's
/admin/login/ alike, since both go through django.contrib.auth's authenticate()."""

from __future__ import annotations

import logging
from typing import Any

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from workspaces.services import login_lockout_record

log = logging.getLogger(__name__)


def login_username(request: HttpRequest, credentials: dict[str, Any] | None = None) -> str:
    """The account a log-in names, as stored (emails are kept lower-case): `Alice@x`
    and `alice@x` are one account, so changing the case does not get around its count."""
    raw = (credentials if credentials is not None else request.POST).get("username")
    return str(raw or "").strip().lower()[:254]


def client_ip(request: HttpRequest) -> str:
    """The client's address: the connection's, or with TRUSTED_PROXY_COUNT proxies in
    front the address the first of them saw (X-Forwarded-For, counted from the right;
    anything further left is what the client wrote and is not trusted)."""
    remote = str(request.META.get("REMOTE_ADDR") or "")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    hops = [h.strip() for h in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
    hops = [h for h in hops if h]
    if len(hops) < proxies:
        return remote
    return hops[-proxies]


def cooloff_minutes() -> int:
    return max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """The login page again, with why it refuses and for how long (429)."""
    form = AuthenticationForm(request, initial={"username": login_username(request, credentials)})
    return render(
        request,
        "registration/login.html",
        {
            "form": form,
            "locked_out": True,
            "cooloff_minutes": cooloff_minutes(),
            "next": request.POST.get("next") or request.GET.get("next", ""),
        },
        status=429,
    )


def on_user_locked_out(
    sender: Any, request: HttpRequest, username: str, ip_address: str, **kwargs: Any
) -> None:
    """axes' `user_locked_out` signal (its interface for this; we use no signals of our
    own), sent for the failure that starts a lock and for every attempt it refuses:
    record it, and where the account itself is locked (not only the address it came
    from), where the account's workspaces can see it."""
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    account_failures = AccessAttempt.objects.filter(
        username=username, attempt_time__gte=since
    ).aggregate(n=Sum("failures_since_start"))["n"]
    login_lockout_record(
        username=username or "",
        ip_address=ip_address or "",
        site="admin" if request.path.startswith("/admin/") else "dashboard",
        account_locked=(account_failures or 0) >= settings.AXES_FAILURE_LIMIT,
    )
