"""The drift check: derived rows (event summaries, rollups) compared with the raw data,
counted per table, recorded, repaired and logged; contacts still on their way through
the engine are not drift."""

from __future__ import annotations

import datetime as dt
import json
import logging
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from analytics.models import AnalyticsSettings, DriftCheck
from analytics.rollups import rollups_rebuild
from analytics.services import drift_check, drift_checks_due
from analytics.tasks import drift_check_due
from config.celery import app
from contacts.models import Contact
from contacts.services import contact_erase, contacts_mark_changed, events_ingest
from lifecycle.hooks import transitions_dispatch
from lifecycle.services import marked_contacts_evaluate, stages_create_defaults
from surveys.hooks import answers_changed
from surveys.models import SurveyResponse
from tests.surveys.helpers import nps_survey, settle
from workspaces.models import Workspace
from workspaces.services import Actor

pytestmark = pytest.mark.django_db

TABLES = [
    "contacts_eventsummary",
    "analytics_customerfacts",
    "analytics_contactmonth",
    "analytics_stay",
    "analytics_cohortcell",
    "analytics_stageflowday",
    "analytics_stageflowgroupday",
    # the period rollups (issue 19)
    "analytics_purchaseday",
    "analytics_orderday",
    "analytics_acquisitionday",
    "analytics_activeday",
    "analytics_staylength",
    # counts of the stays (issue 19, cold reports): the stay deleted below was counted
    "analytics_conversionday",
    "analytics_churncover",
    "analytics_staygroupcount",
    "analytics_ordergroupday",
    "analytics_activegroupday",
    # the answer sums by group (analytics/rollups/answer_groups.py)
    "analytics_contactanswerday",
    "analytics_answergroupday",
]


def drain() -> None:
    while marked_contacts_evaluate():
        pass
    while transitions_dispatch():
        pass


@pytest.fixture
def shop(ws: Workspace) -> list[Contact]:
    """Twelve settled customers and browsers, months of history, in a workspace far
    from UTC (months and days are local)."""
    ws.time_zone = "Pacific/Auckland"
    ws.save()
    stages_create_defaults(workspace=ws)
    now = timezone.now()
    items = []
    for n in range(12):
        for k in range(n % 4 + 1):
            at = now - dt.timedelta(days=30 * k + n, hours=n)
            items.append(
                {
                    "contact": {"email": f"c{n}@example.com"},
                    "name": "purchase" if (n + k) % 2 else "page_view",
                    "revenue": f"{10 + n}.50" if (n + k) % 2 else None,
                    "occurred_at": at.isoformat(),
                }
            )
    events_ingest(workspace=ws, items=items)
    for n, contact in enumerate(Contact.objects.filter(workspace=ws).order_by("pk")):
        contact.attributes = {"signup_source": ["ads", "organic"][n % 2]}
        contact.save(update_fields=["attributes"])
    survey = nps_survey(ws)
    for n, contact in enumerate(Contact.objects.filter(workspace=ws).order_by("pk")[:6]):
        at = now - dt.timedelta(days=n * 9, hours=n)
        row = SurveyResponse.objects.create(
            workspace=ws,
            survey=survey,
            contact=contact,
            send_key=f"k{n}",
            score=n + 4,
            channel="email",
            answered_at=at,
            updated_at=at,
        )
        answers_changed(workspace_id=ws.pk, survey_id=survey.pk, response_ids=[row.pk])
    settle()  # the answers have stood: the engine is told of them
    contacts_mark_changed(contact_ids=list(Contact.objects.values_list("pk", flat=True)))
    drain()
    return list(Contact.objects.filter(workspace=ws).order_by("pk"))


def corrupt(ws: Workspace, contacts: list[Contact]) -> None:
    """One wrong row in every derived table, as a lost update would leave it."""
    a, b, c = contacts[1].pk, contacts[2].pk, contacts[3].pk
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE contacts_eventsummary SET count = count + 1 WHERE id = "
            "(SELECT min(id) FROM contacts_eventsummary WHERE contact_id = %s)",
            [a],
        )
        cursor.execute(
            "UPDATE analytics_customerfacts SET revenue = revenue + 1 WHERE contact_id = %s", [b]
        )
        cursor.execute(
            "UPDATE analytics_contactmonth SET events = events + 3 WHERE (contact_id, month) = "
            "(SELECT contact_id, min(month) FROM analytics_contactmonth WHERE contact_id = %s "
            "GROUP BY contact_id)",
            [c],
        )
        # The contact's first stay by id; which of its stays that is depends on the
        # order PostgreSQL inserted them in (it differs between 15 and 16), and only a
        # stay counting a day of coverage is in ChurnCover: when it is not, one cover
        # count is made wrong by hand instead.
        cursor.execute(
            "SELECT s.id, s.cover_from IS NOT NULL AND (s.left_at IS NULL OR s.cover_from "
            "<= (s.left_at AT TIME ZONE w.time_zone)::date) FROM analytics_stay s "
            "JOIN workspaces_workspace w ON w.id = s.workspace_id "
            "WHERE s.contact_id = %s ORDER BY s.id LIMIT 1",
            [a],
        )
        stay_id, covered = cursor.fetchone()
        cursor.execute("DELETE FROM analytics_stay WHERE id = %s", [stay_id])
        if not covered:
            cursor.execute(
                "UPDATE analytics_churncover SET stays = stays + 1 WHERE id = "
                "(SELECT min(id) FROM analytics_churncover WHERE workspace_id = %s)",
                [ws.pk],
            )
        cursor.execute(
            "UPDATE analytics_cohortcell SET size = size + 1 WHERE id = "
            "(SELECT min(id) FROM analytics_cohortcell WHERE workspace_id = %s AND size > 0)",
            [ws.pk],
        )
        cursor.execute(
            "UPDATE analytics_stageflowday SET moves = moves + 2 WHERE id = "
            "(SELECT min(id) FROM analytics_stageflowday WHERE workspace_id = %s)",
            [ws.pk],
        )
        cursor.execute(
            "UPDATE analytics_stageflowgroupday SET moves = moves - 1 WHERE id = "
            "(SELECT max(id) FROM analytics_stageflowgroupday WHERE workspace_id = %s)",
            [ws.pk],
        )
        # a purchase day (so its order sum no longer sums the purchase days either),
        # an acquisition and an active-day count; the stay taken out above leaves the
        # stay lengths counting one stay too many
        cursor.execute(
            "UPDATE analytics_purchaseday SET revenue = revenue + 1 WHERE id = "
            "(SELECT min(id) FROM analytics_purchaseday WHERE contact_id = %s)",
            [b],
        )
        # (the purchase day above leaves the orders by group differing too; as the
        # answer row does the answer sums)
        cursor.execute(
            "UPDATE analytics_contactanswerday SET answers = answers + 1 WHERE id = "
            "(SELECT min(id) FROM analytics_contactanswerday WHERE contact_id = %s)",
            [b],
        )
        for table in ("acquisitionday", "activeday", "activegroupday"):
            cursor.execute(
                f"UPDATE analytics_{table} SET contacts = contacts + 1 WHERE id = "
                f"(SELECT min(id) FROM analytics_{table} WHERE workspace_id = %s)",
                [ws.pk],
            )


def test_a_settled_workspace_has_no_drift_and_the_check_is_recorded(ws, shop):
    check = drift_check(workspace=ws, sample=None)
    assert check.rows_differing == 0, check.tables
    assert check.contacts_checked == len(shop)
    assert set(TABLES) <= set(check.tables)
    assert all(check.tables[t]["checked"] > 0 for t in TABLES), check.tables
    assert DriftCheck.objects.get() == check


def test_every_kind_of_drift_is_counted_then_repaired(ws, shop, caplog):
    corrupt(ws, shop)
    with caplog.at_level(logging.WARNING, logger="analytics.services.drift"):
        counted = drift_check(workspace=ws, sample=None, repair=False)
    found = {t: counted.tables[t]["differing"] for t in TABLES}
    # the stay taken out was in two or three of the counts by group (its length, its
    # first entry, and its cover when it counted a day)
    assert found.pop("analytics_staygroupcount") in (2, 3)
    assert found == dict.fromkeys(found, 1)
    assert counted.rows_repaired == 0
    assert "analytics.drift_found" in caplog.text and "table=analytics_cohortcell" in caplog.text

    repaired = drift_check(workspace=ws, sample=None)
    assert repaired.rows_differing == counted.rows_differing
    assert repaired.rows_repaired == counted.rows_differing
    drain()  # the marked contacts are recomputed by the engine
    assert drift_check(workspace=ws, sample=None).rows_differing == 0
    before = _rollups(ws)
    rollups_rebuild(workspace_id=ws.pk)
    assert before == _rollups(ws)


def test_a_sample_check_finds_drift_among_the_contacts_it_draws(ws, shop):
    corrupt(ws, shop)
    check = drift_check(workspace=ws, sample=200, seed=1)  # draws every contact here
    assert check.scope == "sample" and check.contacts_checked == len(shop)
    assert check.tables["contacts_eventsummary"]["differing"] == 1
    drain()
    # Every contact was drawn, so their own rows are repaired; of the shared rows a
    # sample compares only some days and cohorts (a year of moves spans more days).
    after = drift_check(workspace=ws, sample=None, repair=False)
    shared = {"analytics_cohortcell", "analytics_stageflowday", "analytics_activeday"}
    shared.add("analytics_stageflowgroupday")
    assert {t for t, entry in after.tables.items() if entry["differing"]} <= shared


def test_contacts_the_engine_has_yet_to_refresh_are_not_drift(ws, shop):
    events_ingest(
        workspace=ws,
        items=[{"contact": {"id": shop[0].pk}, "name": "purchase", "revenue": "99.00"}],
    )
    check = drift_check(workspace=ws, sample=None)
    assert check.rows_differing == 0, check.tables
    drain()
    assert drift_check(workspace=ws, sample=None).rows_differing == 0


def test_rows_left_for_an_erased_contact_are_found_and_taken_out(ws, shop):
    gone = shop[5].pk
    with connection.cursor() as cursor:  # as if an erasure had raced and lost them
        cursor.execute(
            "CREATE TEMP TABLE kept AS SELECT * FROM analytics_customerfacts WHERE contact_id = %s",
            [gone],
        )
        cursor.execute(
            "CREATE TEMP TABLE kept_months AS SELECT * FROM analytics_contactmonth "
            "WHERE contact_id = %s",
            [gone],
        )
    contact_erase(contact=Contact.objects.get(pk=gone), actor=Actor(system="test"))
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO analytics_customerfacts SELECT * FROM kept")
        cursor.execute("INSERT INTO analytics_contactmonth SELECT * FROM kept_months")
    check = drift_check(workspace=ws, sample=None)
    assert check.tables["erased_contacts"]["differing"] == 1
    assert check.tables["analytics_cohortcell"]["differing"] > 0  # cells without them
    again = drift_check(workspace=ws, sample=None)
    assert again.rows_differing == 0, again.tables


def test_beat_hands_out_each_workspace_once_an_interval(ws, shop, outsider, settings):
    settings.ANALYTICS_DRIFT_CHECK_SECONDS = 3600
    now = timezone.now()
    assert drift_checks_due(every=dt.timedelta(hours=1), now=now) == sorted(
        [ws.pk, outsider.workspace.pk]
    )
    assert drift_checks_due(every=dt.timedelta(hours=1), now=now) == []
    assert drift_checks_due(every=dt.timedelta(hours=1), now=now + dt.timedelta(hours=2))


def test_the_task_and_the_command_record_checks(ws, shop, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the task hands out in-process here

    app.conf.task_always_eager = True
    try:
        assert ws.pk in drift_check_due()
    finally:
        app.conf.task_always_eager = False
    assert DriftCheck.objects.filter(workspace=ws, scope="sample").exists()
    out = StringIO()
    call_command("drift_check", "--workspace", ws.slug, "--all", stdout=out)
    line = json.loads(out.getvalue().splitlines()[-1])
    assert (line["slug"], line["scope"], line["rows_differing"]) == (ws.slug, "all", 0)


def test_the_admin_shows_the_last_check(owner, ws, shop):
    owner.user.is_staff = owner.user.is_superuser = True
    owner.user.save()
    AnalyticsSettings.objects.get_or_create(workspace=ws)
    drift_check(workspace=ws, sample=None)
    page = owner.web.get("/admin/analytics/analyticssettings/")
    assert page.status_code == 200
    assert b"0 of" in page.content and b"rows differed" in page.content
    assert owner.web.get("/admin/analytics/driftcheck/").status_code == 200


def _rollups(ws: Workspace) -> dict[str, Any]:
    out = {}
    with connection.cursor() as cursor:
        for table, columns, keep in (
            ("analytics_stageflowday", "day, from_stage_id, to_stage_id, moves", "moves <> 0"),
            (
                "analytics_stageflowgroupday",
                "day, from_stage_id, to_stage_id, source, signup_month, moves",
                "moves <> 0",
            ),
            ("analytics_stay", "contact_id, stage_id, transition_id, entered_at, left_at", "true"),
            ("analytics_customerfacts", "contact_id, source, first_purchase_at, revenue", "true"),
            (
                "analytics_contactmonth",
                "contact_id, month, events, purchases, revenue, active_days",
                "true",
            ),
            (
                "analytics_cohortcell",
                "basis, cohort, month, source, size, active, revenue",
                "(size, active, purchasing, revenue) <> (0, 0, 0, 0)",
            ),
        ):
            cursor.execute(
                f"SELECT {columns} FROM {table} WHERE workspace_id = %s AND {keep}", [ws.pk]
            )
            out[table] = sorted(cursor.fetchall(), key=repr)
    return out
