from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from workspaces.selectors import memberships_for_user


def workspace(request: HttpRequest) -> dict[str, Any]:
    """The current workspace and the user's other workspaces, for the nav and switcher."""
    current = getattr(request, "workspace", None)
    if current is None or not request.user.is_authenticated:
        return {}
    return {
        "workspace": current,
        "membership": getattr(request, "membership", None),
        "memberships": memberships_for_user(user=request.user),
    }
