"""Reads about workspaces and access, shared by the dashboard, API and admin."""

from __future__ import annotations

from django.db.models import QuerySet

from workspaces.models import ApiKey, Membership, Role, User, Workspace


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(user=user).select_related("workspace").order_by("workspace__name")
    )


def membership_get(*, user: User, slug: str) -> Membership | None:
    return (
        Membership.objects.select_related("workspace", "user")
        .filter(user=user, workspace__slug=slug)
        .first()
    )


def workspaces_administered_by(*, user: User) -> QuerySet[Workspace]:
    """Workspaces whose rows this user may see in the admin."""
    if user.is_superuser:
        return Workspace.objects.all()
    return Workspace.objects.filter(
        memberships__user=user, memberships__role__in=[Role.OWNER, Role.ADMIN]
    )


def api_keys_for_workspace(*, workspace: Workspace) -> QuerySet[ApiKey]:
    return (
        ApiKey.objects.filter(workspace=workspace)
        .select_related("created_by")
        .order_by("-created_at")
    )
