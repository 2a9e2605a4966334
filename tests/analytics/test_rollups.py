"""The rollups equal their rebuild after any seeded interleaving of ingests, imports,
updates, stage moves, dispatches and erasures."""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from analytics.rollups import rollups_rebuild
from contacts.models import Contact, Event
from contacts.services import contact_erase, contact_update, contacts_upsert, events_ingest
from lifecycle.hooks import transitions_dispatch
from lifecycle.models import StageTransition
from lifecycle.services import (
    contact_stage_set,
    marked_contacts_evaluate,
    stages_create_defaults,
)
from surveys.hooks import answers_changed
from surveys.models import SurveyResponse
from tests.surveys.helpers import answer_change, answer_discard, nps_survey, settle
from workspaces.models import Workspace
from workspaces.services import Actor

pytestmark = pytest.mark.django_db

SNAPSHOTS = {
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
    "analytics_answergroupday": (
        "survey_id, source, signup_month, day, score, answers",
        "answers <> 0",
    ),
    "analytics_contactanswerday": ("contact_id, survey_id, day, score, answers", "true"),
    "analytics_stay": (
        "contact_id, stage_id, transition_id, entered_at, left_at, first_entry, next_stage_id, "
        "converted_at, cover_from, source, signup_month",
        "true",
    ),
    "analytics_customerfacts": (
        "contact_id, signup_at, signup_month, source, first_purchase_at, first_purchase_month, "
        "last_purchase_at, orders, purchases, revenue, predicted_clv, probability_alive",
        "true",
    ),
    "analytics_contactmonth": (
        "contact_id, month, events, purchases, revenue, active_days",
        "true",
    ),
    "analytics_cohortcell": (
        "basis, cohort, month, source, size, active, purchasing, revenue",
        "(size, active, purchasing, revenue) <> (0, 0, 0, 0)",
    ),
    # the period rollups (issue 19)
    "analytics_purchaseday": (
        "contact_id, day, previous_day, previous2_day, purchases, revenue",
        "true",
    ),
    "analytics_orderday": (
        "day, previous_day, previous2_day, orders, purchases, revenue",
        "(orders, purchases, revenue) <> (0, 0, 0)",
    ),
    "analytics_activeday": ("day, previous_day, contacts", "contacts <> 0"),
    "analytics_conversionday": ("stage_id, next_stage_id, day, days, contacts", "contacts <> 0"),
    "analytics_churncover": ("stage_id, from_day, to_day, stays", "stays <> 0"),
    "analytics_acquisitionday": (
        "signup_day, first_purchase_day, source, contacts",
        "contacts <> 0",
    ),
    "analytics_staylength": ("stage_id, open, day, days, stays", "stays <> 0"),
}


def _snapshot(workspace_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """The rollup rows without ids; rows that add nothing (zero counts left behind by
    a subtraction) are not rows of the definition."""
    out = {}
    with connection.cursor() as cursor:
        for table, (columns, keep) in SNAPSHOTS.items():
            cursor.execute(
                f"SELECT {columns} FROM {table} WHERE workspace_id = %s AND {keep}",
                [workspace_id],
            )
            out[table] = sorted(cursor.fetchall(), key=repr)
    return out


def _drain() -> None:
    settle()  # answers that have stood are told to the engine (beat's)
    while marked_contacts_evaluate():
        pass
    while transitions_dispatch():
        pass


def _flows_by_definition(ws: Workspace) -> list[tuple[Any, ...]]:
    tz = zoneinfo.ZoneInfo(ws.time_zone)
    counts = Counter(
        (t.at.astimezone(tz).date(), t.from_stage_id, t.to_stage_id)
        for t in StageTransition.objects.filter(workspace=ws, notified_at__isnull=False)
    )
    return sorted(((day, f, to, n) for (day, f, to), n in counts.items()), key=repr)


def _random_events(
    rng: random.Random, ws: Workspace, emails: list[str], now: dt.datetime
) -> list[dict[str, Any]]:
    """One to four events of random kinds and revenue, minutes around local midnights of
    the last months."""
    items = []
    for _ in range(rng.randint(1, 4)):
        name = rng.choice(["purchase", "purchase", "page_view", "order", "trial_started"])
        revenue = rng.choice([None, "9.99", "120.00", "0.01", "45.50"])
        day = (now - dt.timedelta(days=rng.randint(0, 200))).astimezone(
            zoneinfo.ZoneInfo(ws.time_zone)
        )
        at = day.replace(hour=0, minute=0) + dt.timedelta(minutes=rng.choice([-2, -1, 1, 2, 600]))
        items.append(
            {
                "contact": {"email": rng.choice(emails)},
                "name": name,
                "revenue": revenue,
                "occurred_at": at.isoformat(),
            }
        )
    return items


def _answerer(
    rng: random.Random, survey: Any, contacts: Callable[[], list[Contact]], now: dt.datetime
) -> Callable[[], None]:
    def answer() -> None:
        """A new answer, or one changed (a score, a scanner's burst), told to the hook."""
        people = contacts()
        rows = list(SurveyResponse.objects.filter(survey=survey).order_by("pk"))
        if rows and rng.random() < 0.4:
            row = rng.choice(rows)
            if rng.random() < 0.2:
                answer_discard(row)
            else:
                answer_change(row, rng.randint(0, 10))
            return
        if not people:
            return
        at = now - dt.timedelta(days=rng.uniform(0, 200))
        row = SurveyResponse.objects.create(
            workspace=survey.workspace,
            survey=survey,
            contact=rng.choice(people),
            send_key=f"k{rng.getrandbits(48)}",
            score=rng.randint(0, 10),
            channel="email",
            answered_at=at,
            updated_at=at,
        )
        answers_changed(
            workspace_id=survey.workspace_id, survey_id=survey.pk, response_ids=[row.pk]
        )

    return answer


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_rollups_equal_their_rebuild_after_any_interleaving(ws: Workspace, seed: int) -> None:
    rng = random.Random(seed)
    ws.time_zone = rng.choice(["Pacific/Auckland", "America/New_York"])
    ws.save()
    stages = stages_create_defaults(workspace=ws)
    actor = Actor(system="test")
    emails = [f"p{i}@example.com" for i in range(8)]
    now = dt.datetime.now(dt.UTC)

    def contacts() -> list[Contact]:
        return list(Contact.objects.filter(workspace=ws).order_by("pk"))

    def ingest() -> None:
        result = events_ingest(workspace=ws, items=_random_events(rng, ws, emails, now))
        assert not result.errors, result.errors

    def update() -> None:
        people = contacts()
        if people:
            contact_update(
                contact=rng.choice(people),
                data={"attributes": {"signup_source": rng.choice(["ads", "organic", None])}},
                actor=actor,
            )

    def import_() -> None:
        items = [
            {
                "email": rng.choice(emails),
                "attributes": {"signup_source": rng.choice(["ads", "fair"])},
            }
            for _ in range(2)
        ]
        contacts_upsert(workspace=ws, items=items, source="import")

    def move() -> None:
        people = contacts()
        if people:
            contact_stage_set(
                contact=rng.choice(people),
                stage=rng.choice(stages),
                actor=actor,
                pin=rng.random() < 0.5,
            )

    def dispatch() -> None:
        transitions_dispatch(limit=rng.randint(1, 3))

    def evaluate() -> None:
        marked_contacts_evaluate(limit=rng.randint(1, 4))

    def erase() -> None:
        people = contacts()
        if people and rng.random() < 0.5:
            contact_erase(contact=rng.choice(people), actor=actor)

    answer = _answerer(rng, nps_survey(ws), contacts, now)
    steps: list[Callable[[], None]] = [
        ingest,
        ingest,
        update,
        import_,
        move,
        move,
        dispatch,
        evaluate,
        evaluate,
        erase,
        answer,
    ]
    done: Counter[str] = Counter()
    for round_ in range(3):
        for _ in range(25):
            step = rng.choice(steps)
            step()
            done[step.__name__] += 1
        _drain()
        before = _snapshot(ws.pk)
        assert before["analytics_stageflowday"] == _flows_by_definition(ws), (seed, round_)
        rollups_rebuild(workspace_id=ws.pk)
        after = _snapshot(ws.pk)
        for table in SNAPSHOTS:
            assert before[table] == after[table], (seed, round_, table)
    # the run exercised what it claims to
    assert StageTransition.objects.filter(workspace=ws).exists()
    assert Event.objects.filter(workspace=ws, name="purchase", revenue__isnull=False).exists()
    assert done["erase"] and done["move"] and done["ingest"] and done["dispatch"], done
    assert done["answer"] and SurveyResponse.objects.filter(workspace=ws).exists(), done


def _row_versions(workspace_id: int) -> dict[str, dict[Any, str]]:
    """Each stored row's version (xmin) by its key: a row rewritten gets a new one."""
    keys = {
        "analytics_stay": "transition_id",
        "analytics_contactmonth": "(contact_id, month)",
        "analytics_customerfacts": "contact_id",
    }
    out = {}
    with connection.cursor() as cursor:
        for table, key in keys.items():
            cursor.execute(
                f"SELECT {key}::text, xmin::text FROM {table} WHERE workspace_id = %s",
                [workspace_id],
            )
            out[table] = dict(cursor.fetchall())
    return out


def test_a_rebuild_repairs_wrong_rows_and_rewrites_none_of_the_right_ones(ws: Workspace) -> None:
    stages_create_defaults(workspace=ws)
    now = dt.datetime.now(dt.UTC)
    items = [
        {
            "contact": {"email": f"p{i}@example.com"},
            "name": name,
            "revenue": "20.00" if name == "purchase" else None,
            "occurred_at": (now - dt.timedelta(days=days)).isoformat(),
        }
        for i in range(4)
        for name, days in (("page_view", 200 - i), ("purchase", 120 - i), ("purchase", 30 - i))
    ]
    assert not events_ingest(workspace=ws, items=items).errors
    _drain()
    rollups_rebuild(workspace_id=ws.pk)
    right = _snapshot(ws.pk)
    versions = _row_versions(ws.pk)
    assert len(versions["analytics_stay"]) >= 8 and len(versions["analytics_contactmonth"]) >= 12

    # Rows gone wrong the way a bug or a hand edit would leave them.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE analytics_stay SET left_at = now() WHERE id = "
            "(SELECT min(id) FROM analytics_stay WHERE workspace_id = %s)",
            [ws.pk],
        )
        cursor.execute(
            "DELETE FROM analytics_contactmonth WHERE id = "
            "(SELECT min(id) FROM analytics_contactmonth WHERE workspace_id = %s)",
            [ws.pk],
        )
        cursor.execute(
            "INSERT INTO analytics_contactmonth (workspace_id, contact_id, month, events, "
            "purchases, revenue, active_days) SELECT workspace_id, contact_id, "
            "'1999-01-01', 1, 1, 5, 1 FROM analytics_contactmonth WHERE workspace_id = %s "
            "LIMIT 1",
            [ws.pk],
        )
        cursor.execute(
            "UPDATE analytics_customerfacts SET revenue = revenue + 1 WHERE contact_id = "
            "(SELECT min(contact_id) FROM analytics_customerfacts WHERE workspace_id = %s)",
            [ws.pk],
        )
    wrong = _row_versions(ws.pk)
    assert _snapshot(ws.pk) != right

    rollups_rebuild(workspace_id=ws.pk)

    assert _snapshot(ws.pk) == right
    after = _row_versions(ws.pk)
    for table, rows in versions.items():
        kept = {key for key, version in rows.items() if wrong[table].get(key) == version}
        assert len(kept) == len(rows) - 1, table  # one row of each was made wrong
        assert {key: after[table][key] for key in kept} == {key: rows[key] for key in kept}
