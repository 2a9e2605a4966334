"""The drift check: a workspace's derived rows (event summaries and analytics rollups)
compared with what its raw rows give, the count recorded, what differs repaired, and
logged (issue 12). Beat runs it on a sample of contacts every
ANALYTICS_DRIFT_CHECK_SECONDS; `manage.py drift_check --all` compares everything.

Contacts whose derived rows may rightly lag are left out of each comparison, in the
same statement that compares: a contact with a mark (the engine has yet to refresh
it) for summaries, facts and months; a contact with an undispatched move for stays.
Cohort cells and flows are exact at any moment (each writer changes them in the
transaction that changes what they count), so they are compared whole — but for the
seconds between a rebuild's months committing and its cells (docs/analytics.md): a
check then may count cells as differing, and its repair, which waits for the rebuild,
writes what the rebuild wrote."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from typing import Any

from django.db import connection

from analytics.models import DriftCheck
from analytics.rollups import (
    answer_rows_compare,
    answer_rows_orphans,
    churn_cover_compare,
    cohort_cells_compare,
    conversion_days_compare,
    customer_rollups_compare,
    customer_rollups_orphans,
    flow_groups_compare,
    period_sums_compare,
    purchase_days_compare,
    purchase_days_orphans,
    rollups_repair,
    stage_flows_compare,
    stay_groups_compare,
    stay_lengths_compare,
    stays_compare,
    stays_orphans,
)
from contacts.services import contacts_mark_changed, event_summaries_compare
from workspaces.models import Workspace

logger = logging.getLogger(__name__)

PAGE = 5000  # contacts compared per statement when checking all of them
SAMPLE_COHORTS = 3  # cohort months of each basis compared in a sample check
SAMPLE_DAYS = 5  # days of moves compared in a sample check


def _sample(workspace: Workspace, size: int, rng: random.Random) -> list[int]:
    """About `size` contacts at random: the first contact at or after random points
    of the workspace's id range (one index probe each, no scan)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(id), max(id) FROM contacts_contact WHERE workspace_id = %s",
            [workspace.pk],
        )
        low, high = cursor.fetchone()
        if low is None:
            return []
        points = [rng.randint(low, high) for _ in range(size)]
        cursor.execute(
            """
            SELECT DISTINCT (SELECT c.id FROM contacts_contact c
                             WHERE c.workspace_id = %s AND c.id >= p ORDER BY c.id LIMIT 1)
            FROM unnest(%s::bigint[]) p
            """,
            [workspace.pk, points],
        )
        return sorted(row[0] for row in cursor.fetchall() if row[0] is not None)


def _pages(workspace: Workspace) -> Iterator[list[int]]:
    after = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM contacts_contact WHERE workspace_id = %s AND id > %s "
                "ORDER BY id LIMIT %s",
                [workspace.pk, after, PAGE],
            )
            ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return
        yield ids
        after = ids[-1]


def _cohorts_and_days(
    workspace: Workspace, contact_ids: list[int], rng: random.Random
) -> tuple[tuple[list, list], list]:
    """The cohorts (signup and first-purchase months) and the local days of moves of
    some of these contacts: what a sample check compares of the shared rollups."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ARRAY(SELECT DISTINCT signup_month FROM analytics_customerfacts "
            "WHERE contact_id = ANY(%(ids)s)), "
            "ARRAY(SELECT DISTINCT first_purchase_month FROM analytics_customerfacts "
            "WHERE contact_id = ANY(%(ids)s) AND first_purchase_month IS NOT NULL), "
            "ARRAY(SELECT DISTINCT (t.at AT TIME ZONE %(tz)s)::date "
            "FROM lifecycle_stagetransition t WHERE t.contact_id = ANY(%(ids)s))",
            {"ids": contact_ids, "tz": workspace.time_zone},
        )
        signup, first, days = cursor.fetchone()

    def some(values: list, n: int) -> list:
        return sorted(rng.sample(sorted(values), min(n, len(values))))

    return (some(signup, SAMPLE_COHORTS), some(first, SAMPLE_COHORTS)), some(days, SAMPLE_DAYS)


def drift_check(
    *, workspace: Workspace, sample: int | None = 500, repair: bool = True, seed: int | None = None
) -> DriftCheck:
    """Compare a sample of `sample` contacts (None: every contact) of the workspace,
    record the result, and repair what differs unless `repair` is False.

    1. Per contact (sampled, or all in pages): event summaries against the events,
       customer facts and months against the contact and its events, purchase days
       and answer rows against its events and answers, stays against its moves —
       the settled contacts only, each in one statement.
    2. Rows of contacts that are gone: facts, months, purchase days, answer rows,
       stays.
    3. Shared rows: the cohort cells of some of the sampled contacts' cohorts against
       the facts and months they sum, and the flows of some of the days they moved on
       against the dispatched moves (all of them when checking all).
    4. Repair: contacts with differing summaries, facts or months are marked, so the
       engine recomputes all of them as after any change; stays, the rows of gone
       contacts, and differing cells and flows are written again at once.
    5. Record a DriftCheck, log analytics.drift_found per table that differs and
       analytics.drift_checked.
    """
    started = time.perf_counter()
    rng = random.Random(seed)
    tables: dict[str, dict[str, int]] = {}

    def count(table: str, checked: int, differing: int) -> None:
        entry = tables.setdefault(table, {"checked": 0, "differing": 0})
        entry["checked"] += checked
        entry["differing"] += differing

    sampled = _sample(workspace, sample, rng) if sample is not None else []
    contacts_checked = 0
    to_mark: set[int] = set()
    stays_of: set[int] = set()
    for ids in [sampled] if sample is not None else _pages(workspace):
        if not ids:
            continue
        contacts_checked += len(ids)
        checked, differing, contacts = event_summaries_compare(
            workspace_id=workspace.pk, contact_ids=ids
        )
        count("contacts_eventsummary", checked, differing)
        to_mark.update(contacts)
        customers = customer_rollups_compare(workspace_id=workspace.pk, contact_ids=ids)
        for table in ("analytics_customerfacts", "analytics_contactmonth"):
            count(table, *customers[table])
        to_mark.update(customers["contacts"])
        checked, differing, contacts = purchase_days_compare(
            workspace_id=workspace.pk, contact_ids=ids
        )
        count("analytics_purchaseday", checked, differing)
        to_mark.update(contacts)
        checked, differing, contacts = answer_rows_compare(
            workspace_id=workspace.pk, contact_ids=ids
        )
        count("analytics_contactanswerday", checked, differing)
        to_mark.update(contacts)
        checked, differing, contacts = stays_compare(workspace_id=workspace.pk, contact_ids=ids)
        count("analytics_stay", checked, differing)
        stays_of.update(contacts)

    customers_gone = sorted(
        set(customer_rollups_orphans(workspace_id=workspace.pk))
        | set(purchase_days_orphans(workspace_id=workspace.pk))
        | set(answer_rows_orphans(workspace_id=workspace.pk))
    )
    stays_gone = stays_orphans(workspace_id=workspace.pk)
    # contacts erased whose rollup rows were left behind (nothing marks them any more)
    count("erased_contacts", 0, len(set(customers_gone) | set(stays_gone)))
    stays_of.update(stays_gone)

    cohorts: tuple[list, list] | None = None
    days: list | None = None
    if sample is not None:
        cohorts, days = _cohorts_and_days(workspace, sampled, rng)
        count("analytics_cohortcell", *cohort_cells_compare(
            workspace_id=workspace.pk, signup=cohorts[0], first=cohorts[1]
        ))  # fmt: skip
        count("analytics_stageflowday", *stage_flows_compare(workspace_id=workspace.pk, days=days))
        count(
            "analytics_stageflowgroupday",
            *flow_groups_compare(workspace_id=workspace.pk, days=days),
        )
    else:
        count("analytics_cohortcell", *cohort_cells_compare(workspace_id=workspace.pk))
        count("analytics_stageflowday", *stage_flows_compare(workspace_id=workspace.pk))
        count("analytics_stageflowgroupday", *flow_groups_compare(workspace_id=workspace.pk))

    # the period sums and stay lengths, whole (sums of rows written in the same
    # transaction: exact at any moment)
    # (the active days, every month expanded, with a check of all only)
    for table, result in period_sums_compare(
        workspace_id=workspace.pk, every=sample is None
    ).items():
        count(table, *result)
    count("analytics_staylength", *stay_lengths_compare(workspace_id=workspace.pk))
    count("analytics_conversionday", *conversion_days_compare(workspace_id=workspace.pk))
    count("analytics_churncover", *churn_cover_compare(workspace_id=workspace.pk))
    count("analytics_staygroupcount", *stay_groups_compare(workspace_id=workspace.pk))
    sums: tuple[str, ...] = ("analytics_orderday", "analytics_acquisitionday")
    sums += ("analytics_activeday",)
    sums += ("analytics_staylength", "analytics_conversionday", "analytics_churncover")
    sums += ("analytics_staygroupcount", "analytics_ordergroupday", "analytics_activegroupday")
    sums += ("analytics_answergroupday",)

    differing = sum(entry["differing"] for entry in tables.values())
    repaired = 0
    if repair and differing:
        if to_mark:
            contacts_mark_changed(contact_ids=sorted(to_mark), source="rule", urgent=False)
        cells_differ = tables["analytics_cohortcell"]["differing"] > 0
        flows_differ = any(
            tables[t]["differing"]
            for t in ("analytics_stageflowday", "analytics_stageflowgroupday")
        )
        rollups_repair(
            workspace_id=workspace.pk,
            stays_of=sorted(stays_of),
            customers_gone=customers_gone,
            cohorts=cohorts if cells_differ and sample is not None else None,
            days=days if flows_differ and sample is not None else None,
            everything=sample is None and (cells_differ or flows_differ),
            sums=any(tables.get(t, {}).get("differing") for t in sums),
        )
        repaired = differing
    check = DriftCheck.objects.create(
        workspace=workspace,
        scope=DriftCheck.Scope.SAMPLE if sample is not None else DriftCheck.Scope.ALL,
        contacts_checked=contacts_checked,
        rows_checked=sum(entry["checked"] for entry in tables.values()),
        rows_differing=differing,
        rows_repaired=repaired,
        repair=repair,
        tables=tables,
        seconds=round(time.perf_counter() - started, 3),
    )
    for table, entry in tables.items():
        if entry["differing"]:
            logger.warning(
                "analytics.drift_found workspace=%s table=%s rows=%s checked=%s repaired=%s",
                workspace.pk,
                table,
                entry["differing"],
                entry["checked"],
                repair,
            )
    logger.info(
        "analytics.drift_checked workspace=%s scope=%s contacts=%s rows=%s differing=%s "
        "repaired=%s seconds=%.1f",
        workspace.pk,
        check.scope,
        contacts_checked,
        check.rows_checked,
        differing,
        repaired,
        check.seconds,
    )
    return check


def drift_last(*, workspace: Workspace) -> DriftCheck | None:
    return DriftCheck.objects.filter(workspace=workspace).order_by("-checked_at", "-pk").first()


def drift_summary(check: DriftCheck) -> dict[str, Any]:
    """A check as the command prints it."""
    return {
        "workspace": check.workspace_id,
        "scope": check.scope,
        "contacts": check.contacts_checked,
        "rows_checked": check.rows_checked,
        "rows_differing": check.rows_differing,
        "rows_repaired": check.rows_repaired,
        "tables": check.tables,
        "seconds": check.seconds,
    }
