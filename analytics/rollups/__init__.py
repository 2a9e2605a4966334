"""Rollups behind the analytics figures: kept current by hooks on the lifecycle engine
and on erasure, rebuilt from scratch nightly (and on demand) from the raw data.

Concurrency: an incremental update takes a shared advisory lock on each workspace it
touches, a rebuild an exclusive one, so a rebuild never interleaves with an increment
to the rows it is recomputing. Between increments, the rows of one contact have one
writer at a time (the engine's claim on its marks, the dispatch of its moves, its
erasure: see each function), and the rows shared by many contacts (flows per day,
cohort cells) are only ever added to, in key order, in one statement per transaction,
so increments commute and never deadlock."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Collection, Mapping, Sequence
from functools import partial

from django.db import connection, transaction

from analytics.cache import data_changed, figures_changed
from analytics.rollups.answer_groups import (
    answer_groups_rebuild,
    answer_rows_orphans,
    answering_contacts,
)
from analytics.rollups.churn_cover import churn_cover_compare, churn_cover_recompute
from analytics.rollups.clv_summary import clv_summary_refresh
from analytics.rollups.conversion import conversion_days_compare, conversion_days_recompute
from analytics.rollups.customer_refresh import customer_rollups_refresh
from analytics.rollups.customers import (
    cohort_cells_compare,
    cohort_cells_rebuild,
    cohort_cells_recompute,
    contact_months_rebuild,
    customer_facts_rebuild,
    customer_rollups_compare,
    customer_rollups_erase,
    customer_rollups_orphans,
)
from analytics.rollups.flow_groups import flow_groups_compare, flow_groups_recompute
from analytics.rollups.loyalty import loyalty_rollups_rebuild
from analytics.rollups.period_checks import (
    answer_rows_compare,
    period_sums_compare,
    period_sums_recompute,
    purchase_days_compare,
    purchase_days_orphans,
)
from analytics.rollups.periods import (
    acquisition_days_rebuild,
    active_days_rebuild,
    purchase_days_rebuild,
)
from analytics.rollups.stages import (
    moves_hold,
    stage_flows_compare,
    stage_flows_recompute,
    stage_rollups_apply,
    stage_rollups_erase,
    stage_rollups_rebuild,
    stage_rollups_take_out,
    stay_lengths_compare,
    stay_lengths_recompute,
    stays_compare,
    stays_orphans,
    stays_refresh,
)
from analytics.rollups.stay_groups import stay_groups_compare, stay_groups_recompute
from analytics.rollups.survey_segments import segment_members_changed
from analytics.rollups.surveys import (
    survey_answers_refresh,
    survey_rollups_erase,
    survey_rollups_rebuild,
)
from config.db import alongside
from contacts.models import Contact
from contacts.services import contacts_mark_changed
from lifecycle.hooks import HookBusy, RemovedMove
from lifecycle.models import Stage, StageTransition
from surveys.models import Survey
from workspaces.models import Workspace

logger = logging.getLogger(__name__)
_LOCK_SPACE = 7201  # advisory-lock namespace for a workspace's rollups


def _lock(workspace_ids: Collection[int], *, exclusive: bool) -> None:
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    with connection.cursor() as cursor:
        for workspace_id in sorted(set(workspace_ids)):
            cursor.execute(f"SELECT {function}(%s, %s)", [_LOCK_SPACE, workspace_id])


def _lock_or_busy(workspace_ids: Collection[int]) -> None:
    """The shared lock for an increment run by the engine or a dispatch, tried: while
    a rebuild holds (or waits for) a workspace's rollups, HookBusy makes the caller
    give its work back and try again later, instead of a worker waiting minutes."""
    with connection.cursor() as cursor:
        for workspace_id in sorted(set(workspace_ids)):
            cursor.execute(
                "SELECT pg_try_advisory_xact_lock_shared(%s, %s)", [_LOCK_SPACE, workspace_id]
            )
            if not cursor.fetchone()[0]:
                raise HookBusy(f"the rollups of workspace {workspace_id} are being rebuilt")


def on_stage_changed(transitions: Sequence[StageTransition]) -> None:
    workspaces = {t.workspace_id for t in transitions}
    _lock_or_busy(workspaces)
    stage_rollups_apply(transitions)
    data_changed(workspace_ids=workspaces)


def on_moves_removed(workspace_id: int, contact_ids: list[int], moves: list[RemovedMove]) -> None:
    if moves:
        _lock_or_busy({workspace_id})
        stage_rollups_take_out(workspace_id=workspace_id, contact_ids=contact_ids, moves=moves)


def on_answers_changed(workspace_id: int, survey_id: int, response_ids: Sequence[int]) -> None:
    """The surveys' hook, in the answer's transaction (analytics/rollups/surveys.py).
    The answer sums by group (answer_groups.py) follow the engine instead: it takes a
    counted answer in once it has settled (its event marks the contact)."""
    survey_answers_refresh(
        workspace_id=workspace_id, survey_id=survey_id, response_ids=response_ids
    )
    data_changed(workspace_ids={workspace_id})


def on_segment_members_changed(
    workspace_id: int, segment_id: int, joined: list[int], left: list[int]
) -> None:
    """Contacts' hook, holding the segment's lock (analytics/rollups/survey_segments.py)."""
    segment_members_changed(workspace_id, segment_id, joined, left)
    data_changed(workspace_ids={workspace_id})


def on_contacts_refreshed(
    contact_ids: list[int], since: Mapping[int, dt.datetime] | None = None
) -> None:
    workspaces = set(
        Contact.objects.filter(pk__in=contact_ids).values_list("workspace_id", flat=True)
    )
    _lock_or_busy(workspaces)
    customer_rollups_refresh(contact_ids, since)
    data_changed(workspace_ids=workspaces)


def on_contact_erased(contact: Contact) -> None:
    """In the erasure's transaction, which holds the contact row and has discarded its
    marks (so no engine step acts on it any more): take its moves, stays and customer
    rows out."""
    moves_hold(contact_ids=[contact.pk])
    _lock({contact.workspace_id}, exclusive=False)
    stage_rollups_erase(contact_id=contact.pk)
    customer_rollups_erase(contact_id=contact.pk)
    survey_rollups_erase(workspace_id=contact.workspace_id, contact_id=contact.pk)
    data_changed(workspace_ids={contact.workspace_id})


def rollups_repair(
    *,
    workspace_id: int,
    stays_of: Collection[int] = (),
    customers_gone: Collection[int] = (),
    cohorts: tuple[list, list] | None = None,
    days: list | None = None,
    everything: bool = False,
    sums: bool = False,
) -> None:
    """Write again what the drift check found different, in short transactions:

    - the stays of `stays_of` (holding their moves first, as an erasure does, so no
      dispatch recomputes them meanwhile);
    - the facts and months of contacts that are gone (`customers_gone`: a refresh of
      a contact that no longer exists takes its rows and cohort contribution out);
    - the cohort cells of `cohorts` (signup months, first-purchase months) and the
      flows (and by group) of `days`, or all of them with `everything`, holding the workspace's
      rollups exclusively (no increment may land between the reading and the writing);
    - with `sums`, the period sums (and by group), stay lengths, conversion, cover
      counts and the stay counts by group, from the rows they sum.
    """
    if stays_of:
        with transaction.atomic():
            moves_hold(contact_ids=stays_of)
            _lock({workspace_id}, exclusive=False)
            stays_refresh(contact_ids=stays_of)
    if customers_gone:
        with transaction.atomic():
            _lock({workspace_id}, exclusive=False)
            customer_rollups_refresh(customers_gone)
    if cohorts is not None or days is not None or everything or sums:
        with transaction.atomic():
            _lock({workspace_id}, exclusive=True)
            if sums:
                period_sums_recompute(workspace_id=workspace_id)
                stay_lengths_recompute(workspace_id=workspace_id)
                conversion_days_recompute(workspace_id=workspace_id)
                churn_cover_recompute(workspace_id=workspace_id)
                stay_groups_recompute(workspace_id=workspace_id)
            if cohorts is not None or everything:
                signup, first = (None, None) if everything or cohorts is None else cohorts
                cohort_cells_recompute(workspace_id=workspace_id, signup=signup, first=first)
            if days is not None or everything:
                within = None if everything else days
                stage_flows_recompute(workspace_id=workspace_id, days=within)
                flow_groups_recompute(workspace_id=workspace_id, days=within)
    figures_changed(workspace_id=workspace_id)


def on_workspace_deleted(sender: object, instance: Workspace, **kwargs: object) -> None:
    """pre_delete: the derived rows keep no constraint to cascade along. After a
    rebuild in progress, as every writer of the rollups (the deletion's transaction
    holds the lock to its end)."""
    _lock({instance.pk}, exclusive=True)
    with connection.cursor() as cursor:
        for table in (
            *("stay", "customerfacts", "contactmonth", "purchaseday", "orderday"),
            *("activeday", "acquisitionday", "staylength", "conversionday", "clvsummary"),
            *("churncover", "stageflowgroupday", "staygroupcount", "ordergroupday"),
            *("activegroupday", "contactanswerday", "answergroupday"),
        ):
            cursor.execute(f"DELETE FROM analytics_{table} WHERE workspace_id = %s", [instance.pk])


def answer_sums_rebuild(*, workspace_id: int) -> None:
    """The answer rows and sums by group again, holding the workspace's rollups: after
    answers written without the engine seeing them (the demo's bulk history)."""
    with transaction.atomic():
        _lock({workspace_id}, exclusive=True)
        with connection.cursor() as cursor:
            answer_groups_rebuild(cursor, workspace_id=workspace_id)


def on_survey_deleted(sender: object, instance: Survey, **kwargs: object) -> None:
    """pre_delete: its answers go with it; the engine takes them out of the answer sums
    by group (answer_groups.py)."""
    contacts = answering_contacts(instance.workspace_id, survey_id=instance.pk)
    contacts_mark_changed(contact_ids=contacts, urgent=False)


def on_stage_deleted(sender: object, instance: Stage, **kwargs: object) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM analytics_stay WHERE stage_id = %s", [instance.pk])


REBUILT_TABLES = [
    f"analytics_{name}"
    for name in (
        *("stageflowday", "stay", "customerfacts", "contactmonth", "cohortcell"),
        *("surveyanswerday", "surveysendday"),
        *("loyaltyday", "loyaltyactivegap", "loyaltytiermoveday", "loyaltytiermembers"),
        *("loyaltyoutstanding", "referralcustomerday"),
        *("purchaseday", "orderday", "activeday", "acquisitionday", "staylength"),
        *("conversionday", "clvsummary", "churncover", "stageflowgroupday", "staygroupcount"),
        *("ordergroupday", "activegroupday", "contactanswerday", "answergroupday"),
    )
]


_VACUUMED = [
    f"analytics_{name}"
    for name in (
        *("customerfacts", "staygroupcount", "ordergroupday", "activegroupday"),
        *("stageflowgroupday", "acquisitionday", "answergroupday"),
    )
]


def _cells_follow_the_months(workspace_id: int) -> None:
    """After a rebuild failed once its new months were committed (its facts rolled
    back): the cohort cells recomputed from the facts and months as they now are, so
    the engine's refreshes, which move the cells by each contact's new rows minus its
    stored ones, keep them exact."""
    try:
        with transaction.atomic():
            _lock({workspace_id}, exclusive=True)
            cohort_cells_rebuild(workspace_id=workspace_id)
    except Exception:
        logger.exception("analytics.rollups_cells_repair_failed workspace=%s", workspace_id)


def rollups_from_events_rebuild(workspace_id: int) -> None:
    """The rollups a rebuild recomputes from the events alone: contact months, active
    days (about as long as the facts, stays and purchase days together at 1M)."""
    contact_months_rebuild(workspace_id=workspace_id)
    active_days_rebuild(workspace_id=workspace_id)


def rollups_rebuild(*, workspace_id: int) -> float:
    """Recompute every rollup of a workspace; returns the seconds it took."""
    started = time.perf_counter()
    inline = connection.in_atomic_block
    months_committed = False
    try:
        with transaction.atomic():
            _lock({workspace_id}, exclusive=True)
            # What comes from the events alone is recomputed on a second connection
            # meanwhile (PostgreSQL then works on both): it commits when the block
            # below succeeded and rolls back when it failed (config.db.alongside),
            # while this transaction holds the rollups, so no increment lands between.
            with alongside(partial(rollups_from_events_rebuild, workspace_id), inline=inline):
                # the facts first: the stays read each contact's first purchase
                # (churn_cover.py)
                customer_facts_rebuild(workspace_id=workspace_id)
                stage_rollups_rebuild(workspace_id=workspace_id)
                purchase_days_rebuild(workspace_id=workspace_id)
                with connection.cursor() as cursor:  # after the facts, as the order sums
                    answer_groups_rebuild(cursor, workspace_id=workspace_id)
            months_committed = not inline
            cohort_cells_rebuild(workspace_id=workspace_id)  # from the facts and the months
            acquisition_days_rebuild(workspace_id=workspace_id)  # from the facts
    except BaseException:
        if months_committed:
            _cells_follow_the_months(workspace_id)
        raise
    # In a transaction of its own: it holds the surveys' locks, which answers wait for,
    # only for its own seconds, not for the minutes of the rebuild above.
    survey_rollups_rebuild(workspace_id=workspace_id)
    loyalty_rollups_rebuild(workspace_id=workspace_id)
    clv_summary_refresh(workspace_id=workspace_id)
    # Fresh statistics: a rebuilt table planned on stale ones can pick a nested loop
    # over what are now many rows (seen: 700 ms instead of 7 ms on the demo).
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(REBUILT_TABLES)}")
        if not connection.in_atomic_block:
            # A filter's contacts are read from the facts' index alone only where the
            # visibility map says so, and the sums by group a filter reads likewise;
            # the rebuild rewrote many of their pages (~0.6 s for the facts at 1M;
            # autovacuum would come to them, if it runs, later).
            cursor.execute(f"VACUUM {', '.join(_VACUUMED)}")
    figures_changed(workspace_id=workspace_id)
    took = time.perf_counter() - started
    logger.info("analytics.rollups_rebuilt workspace=%s seconds=%.1f", workspace_id, took)
    return took


__all__ = [
    "answer_rows_compare",
    "answer_rows_orphans",
    "answer_sums_rebuild",
    "churn_cover_compare",
    "cohort_cells_compare",
    "conversion_days_compare",
    "customer_rollups_compare",
    "customer_rollups_orphans",
    "customer_rollups_refresh",
    "flow_groups_compare",
    "on_contact_erased",
    "on_contacts_refreshed",
    "on_stage_changed",
    "period_sums_compare",
    "purchase_days_compare",
    "purchase_days_orphans",
    "rollups_rebuild",
    "rollups_repair",
    "stage_flows_compare",
    "stay_groups_compare",
    "stay_lengths_compare",
    "stays_compare",
    "stays_orphans",
]
