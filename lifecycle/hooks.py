"""The product's `stage.changed` hook: apps that act on stage moves (journeys,
outgoing webhooks) register a function here in their AppConfig.ready().

Hooks are not Django signals and do not run inside the write that moved the contact:
every move is a StageTransition row first, and `transitions_dispatch` hands new rows
to the hooks in batches, marking them notified in the same transaction as whatever
the hooks write. A hook that fails rolls the batch back and it is offered again, so
hooks must be idempotent (e.g. a unique key per transition); none is ever skipped."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from lifecycle.models import StageTransition

logger = logging.getLogger(__name__)

StageChangedHook = Callable[[list[StageTransition]], None]
_hooks: list[StageChangedHook] = []

# Called with the ids of contacts whose data changed, right after the engine has
# recomputed their summaries and stages, in the same transaction (so whatever the hook
# derives is as durable as the marks it consumed).
ContactsRefreshedHook = Callable[[list[int]], None]
_refreshed_hooks: list[ContactsRefreshedHook] = []


def on_contacts_refreshed(hook: ContactsRefreshedHook) -> ContactsRefreshedHook:
    if hook not in _refreshed_hooks:
        _refreshed_hooks.append(hook)
    return hook


def contacts_refreshed(contact_ids: list[int]) -> None:
    for hook in _refreshed_hooks:
        hook(contact_ids)


def on_stage_changed(hook: StageChangedHook) -> StageChangedHook:
    """Register a hook (usable as a decorator)."""
    if hook not in _hooks:
        _hooks.append(hook)
    return hook


def transitions_dispatch(*, limit: int = 1000) -> int:
    """Offer up to `limit` unnotified transitions to every hook; returns how many."""
    with transaction.atomic():
        batch = list(
            StageTransition.objects.filter(notified_at__isnull=True)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("from_stage", "to_stage")
            .order_by("id")[:limit]
        )
        if not batch:
            return 0
        for hook in _hooks:
            hook(batch)
        StageTransition.objects.filter(pk__in=[t.pk for t in batch]).update(
            notified_at=timezone.now()
        )
    logger.info("lifecycle.transitions_dispatched count=%s hooks=%s", len(batch), len(_hooks))
    return len(batch)
