"""Saved views of the contacts list: each member's own, and those shared with the team."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlencode

from django.db import transaction
from django.db.models import Q, QuerySet

from config.errors import Forbidden, InvalidInput
from contacts.models import SavedView
from workspaces.models import Membership
from workspaces.services import Actor, audit_record, save_or_conflict


def saved_views_visible(*, membership: Membership) -> QuerySet[SavedView]:
    """The views a member sees: their own and the shared ones, by name."""
    return SavedView.objects.filter(
        Q(shared=True) | Q(created_by=membership.user), workspace=membership.workspace
    ).order_by("name", "id")


def saved_view_can_remove(*, view: SavedView, membership: Membership) -> bool:
    """Their own view, by anyone; a view shared by another, by a marketer or above."""
    return view.created_by_id == membership.user_id or (view.shared and membership.can_write)


@transaction.atomic
def saved_view_create(
    *,
    membership: Membership,
    name: str,
    filters: Mapping[str, str],
    allowed: Iterable[str],
    shared: bool,
    actor: Actor,
) -> SavedView:
    """Save the list's filters under a name, for the member alone or shared with the
    team (sharing needs a role that may change the workspace: viewers keep their own);
    only the list's own filters are kept."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("Name the view.", fields={"name": ["1 to 100 characters"]})
    if shared and not membership.can_write:
        raise Forbidden("Viewers keep their views to themselves.")
    keys = set(allowed)
    query = urlencode({k: v for k, v in filters.items() if k in keys and v and len(v) < 300})
    view = SavedView(
        workspace=membership.workspace,
        name=name,
        query=query,
        created_by=membership.user,
        shared=shared,
    )
    view.full_clean(exclude=["workspace", "created_by"])
    save_or_conflict(view, "You already have a view with this name.")
    audit_record(
        workspace=membership.workspace,
        action="saved_view.created",
        actor=actor,
        object_type="saved_view",
        object_id=view.pk,
        details={"shared": shared},
    )
    return view


@transaction.atomic
def saved_view_delete(*, view: SavedView, membership: Membership, actor: Actor) -> None:
    if not saved_view_can_remove(view=view, membership=membership):
        raise Forbidden("Only its creator or a marketer can remove a shared view.")
    SavedView.objects.filter(pk=view.pk).delete()
    audit_record(
        workspace=view.workspace,
        action="saved_view.deleted",
        actor=actor,
        object_type="saved_view",
        object_id=view.pk,
    )
