"""Access control for dashboard views: every page lives under /w/<slug>/ and is only
reachable by members of that workspace (others get 404, as if it did not exist)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseBase

from workspaces.dates import date_locale_active
from workspaces.models import Membership, Role, User, Workspace
from workspaces.selectors import membership_get
from workspaces.services import Actor

View = Callable[..., HttpResponseBase]


class WorkspaceRequest(HttpRequest):
    """A dashboard request inside a workspace, as `workspace_view` leaves it."""

    workspace: Workspace
    membership: Membership
    actor: Actor
    user: User


def workspace_view(
    min_role: str = Role.VIEWER, write_methods_role: str = Role.MARKETER
) -> Callable[[View], View]:
    """Resolve /w/<slug>/ to the user's membership. `min_role` guards reading;
    POST and other unsafe methods need `write_methods_role` (viewers cannot write)."""

    def decorator(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapper(
            request: WorkspaceRequest, slug: str, *args: Any, **kwargs: Any
        ) -> HttpResponseBase:
            membership = membership_get(user=request.user, slug=slug)
            if membership is None:
                raise Http404("No such workspace.")
            needed = min_role if request.method in ("GET", "HEAD") else write_methods_role
            if not membership.has_role(needed):
                raise PermissionDenied(f"Your role ({membership.role}) cannot do this.")
            request = _scoped(request, membership)
            if request.session.get("workspace_slug") != slug:
                request.session["workspace_slug"] = slug
            # The page writes dates in the member's format, else the workspace's
            # (workspaces/dates.py).
            locale = membership.date_locale or membership.workspace.date_locale
            with date_locale_active(locale):
                return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _scoped(request: WorkspaceRequest, membership: Membership) -> WorkspaceRequest:
    request.workspace = membership.workspace
    request.membership = membership
    request.actor = Actor(user=membership.user)
    return request
