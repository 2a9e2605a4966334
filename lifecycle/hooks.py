"""The product's `stage.changed` hook: apps that act on stage moves (journeys,
outgoing webhooks) register a function here in their AppConfig.ready().

Hooks are not Django signals and do not run inside the write that moved the contact:
every move is a StageTransition row first, and `transitions_dispatch` hands new rows
to the hooks in batches, marking them notified in the same transaction as whatever
the hooks write. A hook that fails rolls the batch back and it is offered again, so
hooks must be idempotent (e.g. a unique key per transition); none is ever skipped."""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Callable, Mapping

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from config.db import workspaces_with
from lifecycle.models import StageTransition

logger = logging.getLogger(__name__)


class HookBusy(Exception):
    """Raised by a hook that cannot do its work now (its tables are being rebuilt).
    The engine or the dispatch gives the batch back, untouched, and offers it again
    later; nothing is logged as an error."""


StageChangedHook = Callable[[list[StageTransition]], None]
_hooks: list[StageChangedHook] = []

# Called with the ids of contacts whose data changed, once the engine has recomputed
# their summaries and stages (committed), in the transaction that deletes the marks it
# evaluated (so whatever the hook derives is as durable as the marks it consumed). The
# engine holds these contacts meanwhile: no other evaluation of them runs, and an
# erasure of one waits. `since` maps a contact to the earliest moment in its life that
# its news is about, when every change named one (an event's occurred_at, an import's
# dates): whatever a hook derived from data before that moment still holds. A contact
# missing from it (an edit, a drift repair): anything of its may have changed.
ContactsRefreshedHook = Callable[[list[int], Mapping[int, dt.datetime]], None]
_refreshed_hooks: list[ContactsRefreshedHook] = []


def on_contacts_refreshed(hook: ContactsRefreshedHook) -> ContactsRefreshedHook:
    if hook not in _refreshed_hooks:
        _refreshed_hooks.append(hook)
    return hook


def contacts_refreshed(
    contact_ids: list[int], since: Mapping[int, dt.datetime] | None = None
) -> None:
    for hook in _refreshed_hooks:
        hook(contact_ids, since or {})


# Called in a replay's transaction (services/replay.py) with the workspace, the
# replayed contacts and the moves the replay took out of their history, each as
# (id, contact, from stage, to stage, at, notified_at): whatever was derived from
# moves already dispatched (analytics' counts) takes them back out. The moves the
# replay wrote go through the dispatch like any others.
RemovedMove = tuple[int, int, int | None, int, dt.datetime, dt.datetime | None]
MovesRemovedHook = Callable[[int, list[int], list[RemovedMove]], None]
_removed_hooks: list[MovesRemovedHook] = []


def on_moves_removed(hook: MovesRemovedHook) -> MovesRemovedHook:
    if hook not in _removed_hooks:
        _removed_hooks.append(hook)
    return hook


def moves_removed(workspace_id: int, contact_ids: list[int], moves: list[RemovedMove]) -> None:
    for hook in _removed_hooks:
        hook(workspace_id, contact_ids, moves)


# Due moments beyond the stage rules (services/due.py). A source returns, for a
# workspace id, more rules whose time boundaries count in each contact's due moment
# (journeys: the segments their live segment triggers listen to); a due hook is told,
# in the due run's transaction, which contacts it evaluated and at what moment, so
# that it can look at them again (journeys: who joined a segment as time passed).
DueRulesSource = Callable[[int], list[dict]]
DueHook = Callable[[int, list[int], dt.datetime], None]
_due_sources: list[DueRulesSource] = []
_due_hooks: list[DueHook] = []


def register_due_rules(source: DueRulesSource) -> DueRulesSource:
    if source not in _due_sources:
        _due_sources.append(source)
    return source


def due_extra_rules(workspace_id: int) -> list[dict]:
    return [rule for source in _due_sources for rule in source(workspace_id)]


def on_contacts_due(hook: DueHook) -> DueHook:
    if hook not in _due_hooks:
        _due_hooks.append(hook)
    return hook


def contacts_due_evaluated(workspace_id: int, contact_ids: list[int], now: dt.datetime) -> None:
    if contact_ids:
        for hook in _due_hooks:
            hook(workspace_id, contact_ids, now)


_history_hooks: set[StageChangedHook] = set()


def on_stage_changed(hook: StageChangedHook, *, history: bool = False) -> StageChangedHook:
    """Register a hook. A hook that acts on moves (journeys) sees only recent ones
    (`at` within LIFECYCLE_ACT_ON_MOVES_WITHIN_SECONDS); one that records them
    (`history=True`: analytics) sees every move, however old."""
    if hook not in _hooks:
        _hooks.append(hook)
    if history:
        _history_hooks.add(hook)
    return hook


def _offer(batch: list[StageTransition]) -> None:
    recent_from = timezone.now() - dt.timedelta(
        seconds=settings.LIFECYCLE_ACT_ON_MOVES_WITHIN_SECONDS
    )
    recent = [t for t in batch if t.at >= recent_from]
    for hook in _hooks:
        if hook in _history_hooks:
            hook(batch)
        elif recent:
            hook(recent)


_DISPATCH_LOCK_SPACE = 7302  # advisory-lock namespace: one dispatcher per workspace


def transitions_dispatch(*, limit: int = 1000) -> int:
    """Offer up to `limit` unnotified transitions of one workspace to every hook;
    returns how many (0: nothing left anywhere).

    Workspaces with undispatched moves are found by a skip scan of
    transition_unnotified and tried in random order; one where another dispatcher is
    at work is skipped (an advisory lock tried, never waited for), so the stays of a
    contact are recomputed by one writer at a time. Moves locked by an erasure are
    skipped: they go with their contact."""
    workspaces = workspaces_with(table="lifecycle_stagetransition", where="notified_at IS NULL")
    random.shuffle(workspaces)
    for workspace_id in workspaces:
        try:
            batch = _dispatch_batch(workspace_id, limit)
        except HookBusy as busy:
            logger.info("lifecycle.dispatch_deferred workspace=%s reason=%s", workspace_id, busy)
            continue
        if not batch:
            continue
        logger.info(
            "lifecycle.transitions_dispatched workspace=%s count=%s hooks=%s",
            workspace_id,
            len(batch),
            len(_hooks),
        )
        return len(batch)
    return 0


def _dispatch_batch(workspace_id: int, limit: int) -> list[StageTransition]:
    """One workspace's next batch, offered to every hook and marked notified in one
    transaction; [] if another dispatcher has the workspace or nothing is left."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_try_advisory_xact_lock(%s, %s)", [_DISPATCH_LOCK_SPACE, workspace_id]
            )
            if not cursor.fetchone()[0]:
                return []
        batch = list(
            StageTransition.objects.filter(workspace_id=workspace_id, notified_at__isnull=True)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("from_stage", "to_stage")
            .order_by("id")[:limit]
        )
        if not batch:
            return []
        _offer(batch)
        StageTransition.objects.filter(pk__in=[t.pk for t in batch]).update(
            notified_at=timezone.now()
        )
    return batch
