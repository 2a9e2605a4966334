"""Saved views of the contacts list."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlencode

from django.db import transaction

from config.errors import InvalidInput
from contacts.models import SavedView
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record, save_or_conflict


@transaction.atomic
def saved_view_create(
    *,
    workspace: Workspace,
    name: str,
    filters: Mapping[str, str],
    allowed: Iterable[str],
    actor: Actor,
) -> SavedView:
    """Save the list's filters under a name; only the list's own filters are kept."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("Name the view.", fields={"name": ["1 to 100 characters"]})
    keys = set(allowed)
    query = urlencode({k: v for k, v in filters.items() if k in keys and v and len(v) < 300})
    view = SavedView(workspace=workspace, name=name, query=query, created_by=actor.user)
    view.full_clean(exclude=["workspace", "created_by"])
    save_or_conflict(view, "A saved view has this name.")
    audit_record(
        workspace=workspace,
        action="saved_view.created",
        actor=actor,
        object_type="saved_view",
        object_id=view.pk,
    )
    return view


@transaction.atomic
def saved_view_delete(*, view: SavedView, actor: Actor) -> None:
    SavedView.objects.filter(pk=view.pk).delete()
    audit_record(
        workspace=view.workspace,
        action="saved_view.deleted",
        actor=actor,
        object_type="saved_view",
        object_id=view.pk,
    )
