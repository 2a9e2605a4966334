"""Dashboard: home, workspace switch and API keys."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from config.errors import DomainError
from workspaces import selectors, services
from workspaces.dashboard import WorkspaceRequest, workspace_view
from workspaces.models import Role, User


@login_required
def home(request: HttpRequest) -> HttpResponse:
    memberships = selectors.memberships_for_user(user=cast(User, request.user))
    slug = request.session.get("workspace_slug")
    chosen = next((m for m in memberships if m.workspace.slug == slug), None) or memberships.first()
    if chosen is None:
        return render(request, "workspaces/no_workspace.html")
    return redirect("contacts:contacts", slug=chosen.workspace.slug)


@workspace_view(min_role=Role.VIEWER, write_methods_role=Role.ADMIN)
def api_keys(request: WorkspaceRequest) -> HttpResponse:
    secret = None
    if request.method == "POST":
        try:
            key, secret = services.api_key_create(
                workspace=request.workspace,
                name=request.POST.get("name", ""),
                actor=request.actor,
            )
            messages.success(request, f"Key “{key.name}” created. Copy the secret now.")
        except DomainError as exc:
            messages.error(request, exc.message)
    keys = selectors.api_keys_for_workspace(workspace=request.workspace)
    return render(request, "workspaces/api_keys.html", {"keys": keys, "secret": secret})


@require_POST
@workspace_view(min_role=Role.ADMIN, write_methods_role=Role.ADMIN)
def api_key_revoke(request: WorkspaceRequest, key_id: int) -> HttpResponse:
    key = get_object_or_404(
        selectors.api_keys_for_workspace(workspace=request.workspace), pk=key_id
    )
    services.api_key_revoke(api_key=key, actor=request.actor)
    messages.success(request, f"Key “{key.name}” revoked.")
    return redirect("workspaces:api-keys", slug=request.workspace.slug)
