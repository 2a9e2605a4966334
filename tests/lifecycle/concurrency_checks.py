"""What tests/lifecycle/test_concurrency.py compares once the load has gone quiet:
every event summary, every contact's stage, every rollup row and the overview's survey
cards against what a computation from the raw rows gives."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any
from unittest import mock

from django.db import connection
from django.utils import timezone

from analytics.figures import surveys as survey_figures
from analytics.figures.common import Filters, Period
from analytics.figures.surveys import survey_overview
from analytics.rollups import rollups_rebuild
from contacts.models import Contact
from contacts.rules import Scope
from lifecycle.models import ContactStage
from lifecycle.selectors import stages_for_workspace
from lifecycle.services.evaluation import stage_case
from workspaces.models import Workspace


def summaries_differing(workspace_id: int) -> list[tuple[Any, ...]]:
    """Summary rows that are not what the contact's events give (either side)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH fresh AS (
                SELECT contact_id, name, count(*) AS count, min(occurred_at) AS first_at,
                       max(occurred_at) AS last_at, coalesce(sum(revenue), 0) AS revenue,
                       count(revenue) AS revenue_count
                FROM contacts_event WHERE workspace_id = %(ws)s GROUP BY 1, 2
            ), stored AS (
                SELECT contact_id, name, count, first_at, last_at, revenue, revenue_count
                FROM contacts_eventsummary WHERE workspace_id = %(ws)s
            )
            (SELECT 'expected', * FROM (SELECT * FROM fresh EXCEPT SELECT * FROM stored) a)
            UNION ALL
            (SELECT 'stored', * FROM (SELECT * FROM stored EXCEPT SELECT * FROM fresh) b)
            """,
            {"ws": workspace_id},
        )
        return cursor.fetchall()


def stages_differing(workspace: Workspace) -> list[tuple[int, int | None, int]]:
    """(contact, stage it is in, stage its rules give now) where they differ."""
    stages = list(stages_for_workspace(workspace=workspace))
    expected = dict(
        Contact.objects.filter(workspace=workspace)
        .annotate(
            expected=stage_case(
                stages=stages, workspace=workspace, now=timezone.now(), scope=Scope.everyone()
            )
        )
        .values_list("id", "expected")
    )
    current = dict(
        ContactStage.objects.filter(workspace=workspace).values_list("contact_id", "stage_id")
    )
    return [
        (contact_id, current.get(contact_id), stage)
        for contact_id, stage in sorted(expected.items())
        if current.get(contact_id) != stage
    ]


ROLLUPS = {
    "analytics_stageflowday": ("day, from_stage_id, to_stage_id, moves", "moves <> 0"),
    "analytics_stageflowgroupday": (
        "day, from_stage_id, to_stage_id, source, signup_month, moves",
        "moves <> 0",
    ),
    "analytics_staygroupcount": (
        "kind, source, signup_month, stage_id, open, next_stage_id, day, days, until, stays",
        "stays <> 0",
    ),
    "analytics_ordergroupday": (
        "day, previous_day, previous2_day, source, signup_month, orders, purchases, revenue",
        "(orders, purchases, revenue) <> (0, 0, 0)",
    ),
    "analytics_activegroupday": (
        "source, signup_month, day, previous_day, contacts",
        "contacts <> 0",
    ),
    "analytics_stay": (
        "contact_id, stage_id, transition_id, entered_at, left_at, source, signup_month",
        "true",
    ),
    "analytics_customerfacts": (
        "contact_id, signup_at, signup_month, source, first_purchase_at, first_purchase_month, "
        "last_purchase_at, orders, purchases, revenue",
        "true",
    ),
    "analytics_contactmonth": ("contact_id, month, events, purchases, revenue", "true"),
    "analytics_cohortcell": (
        "basis, cohort, month, source, size, active, purchasing, revenue",
        "(size, active, purchasing, revenue) <> (0, 0, 0, 0)",
    ),
    "analytics_contactanswerday": ("contact_id, survey_id, day, score, answers", "true"),
    "analytics_answergroupday": (
        "survey_id, source, signup_month, day, score, answers",
        "answers <> 0",
    ),
}


def _rollups(workspace_id: int) -> dict[str, set[tuple[Any, ...]]]:
    out = {}
    with connection.cursor() as cursor:
        for table, (columns, keep) in ROLLUPS.items():
            cursor.execute(
                f"SELECT {columns} FROM {table} WHERE workspace_id = %s AND {keep}",
                [workspace_id],
            )
            out[table] = set(cursor.fetchall())
    return out


def rollups_differing(workspace_id: int) -> dict[str, dict[str, Any]]:
    """Per rollup table, the rows kept by the engine that a rebuild from the raw data
    does not give, and the other way round."""
    kept = _rollups(workspace_id)
    rollups_rebuild(workspace_id=workspace_id)
    rebuilt = _rollups(workspace_id)
    return {
        table: {
            "kept_only": sorted(kept[table] - rebuilt[table], key=repr)[:5],
            "rebuilt_only": sorted(rebuilt[table] - kept[table], key=repr)[:5],
            "count": len(kept[table] ^ rebuilt[table]),
        }
        for table in ROLLUPS
        if kept[table] != rebuilt[table]
    }


def cards_differing(workspace: Workspace, sources: list[str]) -> list[tuple[str, Any, Any]]:
    """The overview's NPS and CSAT by each source, from the answer sums by group,
    against the same from the sources' raw answers."""
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(workspace.time_zone)).date()
    period = Period(today - dt.timedelta(days=29), today)
    out = []
    for source in sources:
        filters = Filters(source=source)
        summed = survey_overview(workspace=workspace, period=period, filters=filters)
        with mock.patch.object(survey_figures, "filtered_totals", return_value=None):
            raw = survey_overview(workspace=workspace, period=period, filters=filters)
        if summed != raw:
            out.append((source, summed, raw))
    return out
