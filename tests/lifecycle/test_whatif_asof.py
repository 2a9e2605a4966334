"""The rule compiler's as_of mode and the 12-month what-if funnel job, against an
independent evaluation (tests/lifecycle/whatif_oracle.py) of a small data set with
events on both sides of each moment asked about."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.utils import timezone

from contacts.rules import contacts_matching
from contacts.services import event_summaries_refresh
from lifecycle.defaults import DEFAULT_STAGES
from lifecycle.models import Stage, WhatIfRun
from lifecycle.services import stages_create_defaults
from lifecycle.services.whatif import month_ends, whatif_funnel_run, whatif_funnel_start
from lifecycle.tasks import whatif_funnel
from lifecycle.whatif import proposal_parse
from tests.factories import ContactFactory, EventFactory
from tests.lifecycle.whatif_oracle import Row, matches, stage_of
from workspaces.services import Actor

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


@pytest.fixture
def history(ws):
    """30 contacts signed up over the past year, each with purchases, page views,
    referrals and trials spread over the year (so before and after any moment)."""
    rng = random.Random(15)
    rows: dict[int, list[Row]] = {}
    signed: dict[int, dt.datetime] = {}
    for _ in range(30):
        signup = NOW - dt.timedelta(days=rng.randint(1, 380))
        contact = ContactFactory.create(workspace=ws, signed_up_at=signup)
        signed[contact.pk] = signup
        rows[contact.pk] = []
        for _ in range(rng.randint(0, 8)):
            name = rng.choice(
                ["purchase", "purchase", "page_view", "referral_sent", "trial_started"]
            )
            at = signup + dt.timedelta(days=rng.random() * (NOW - signup).days)
            revenue = Decimal(rng.randint(500, 9000)) / 100 if name == "purchase" else None
            properties = {"plan": rng.choice(["pro", "free"])}
            EventFactory.create(
                workspace=ws,
                contact=contact,
                name=name,
                occurred_at=at,
                revenue=revenue,
                properties=properties,
            )
            rows[contact.pk].append(Row(name, at, revenue, properties))
    event_summaries_refresh(contact_ids=list(rows))
    return rows, signed


RULES = [
    {"event": "purchase"},
    {"event": "purchase", "count": {"gte": 2}},
    {"event": "purchase", "count": {"lt": 2}},
    {"event": "purchase", "last": {"within_days": 60}},
    {"event": "purchase", "last": {"older_than_days": 90}},
    {"event": "page_view", "first": {"within_days": 120}},
    {"event": "purchase", "within_days": 90, "count": {"gte": 1}},
    {"event": "purchase", "where": [{"property": "plan", "op": "eq", "value": "pro"}]},
    {"purchases": {"gte": 2}},
    {"purchases": {"eq": 0}},
    {"revenue": {"gte": 100}},
    {"revenue": {"lt": 50}, "within_days": 180},
    {"not": {"event": "referral_sent"}},
    {"any": [{"event": "trial_started", "last": {"within_days": 30}}, {"purchases": {"gte": 3}}]},
]
MOMENTS = [NOW - dt.timedelta(days=d) for d in (0, 45, 130, 250)]


@pytest.mark.parametrize("rule", RULES, ids=[str(r)[:60] for r in RULES])
def test_as_of_matches_an_independent_computation(ws, history, rule):
    rows, signed = history
    for moment in MOMENTS:
        got = set(
            contacts_matching(rule, workspace=ws, now=moment, as_of=True).values_list(
                "pk", flat=True
            )
        )
        expected = {
            pk
            for pk, events in rows.items()
            if signed[pk] <= moment and matches(rule, events, moment)
        }
        assert got == expected, (rule, moment)


def test_as_of_differs_from_reading_todays_summaries(ws, history):
    """Without as_of, events after the moment count (the summaries hold everything),
    so this data set can tell the two apart: the test above cannot pass by accident."""
    rows, signed = history
    moment = MOMENTS[2]
    rule = {"purchases": {"gte": 2}}
    as_of = set(
        contacts_matching(rule, workspace=ws, now=moment, as_of=True).values_list("pk", flat=True)
    )
    today = set(contacts_matching(rule, workspace=ws, now=moment).values_list("pk", flat=True))
    assert as_of < today
    # And contacts who signed up after the moment are not there at all.
    later = {pk for pk, at in signed.items() if at > moment}
    assert later and not later & as_of
    everyone = set(
        contacts_matching({"all": []}, workspace=ws, now=moment, as_of=True).values_list(
            "pk", flat=True
        )
    )
    assert everyone == set(rows) - later


def test_month_ends_are_local_midnights_on_the_first(ws):
    ws.time_zone = "America/New_York"
    ws.save(update_fields=["time_zone"])
    ends = month_ends(workspace=ws, now=dt.datetime(2026, 3, 15, 12, tzinfo=dt.UTC))
    assert len(ends) == 12
    assert ends[-1] == dt.datetime(2026, 3, 1, 5, tzinfo=dt.UTC)  # EST
    assert ends[0] == dt.datetime(2025, 4, 1, 4, tzinfo=dt.UTC)  # EDT
    assert ends == sorted(ends)
    # On the 1st at 00:30 local, the month that just ended is the last one.
    just_after = dt.datetime(2026, 4, 1, 4, 30, tzinfo=dt.UTC)
    assert month_ends(workspace=ws, now=just_after)[-1] == dt.datetime(2026, 4, 1, 4, tzinfo=dt.UTC)


def _expected_funnel(stages, rows, signed, moment):
    counts: dict[str, int] = {}
    for pk, events in rows.items():
        if signed[pk] <= moment:
            key = stage_of(stages, events, moment)
            counts[key] = counts.get(key, 0) + 1
    return counts


def test_the_funnel_job_matches_an_independent_computation(ws, owner, history):
    rows, signed = history
    stages_create_defaults(workspace=ws)
    new_repeat = {"purchases": {"gte": 3}}
    proposal = proposal_parse(workspace=ws, body={"stage": "repeat", "rule": new_repeat})
    run = whatif_funnel_start(workspace=ws, proposal=proposal, actor=Actor(user=owner.user))
    assert run.status == WhatIfRun.Status.QUEUED and run.steps_total == 24
    whatif_funnel(run.pk)  # the Celery task, run here
    run.refresh_from_db()
    assert run.status == WhatIfRun.Status.DONE and run.steps_done == 24, run.error
    assert run.result is not None
    current = [(key, rule) for key, _, _, _, rule in DEFAULT_STAGES]
    proposed = [(key, new_repeat if key == "repeat" else rule) for key, rule in current]
    assert [s["key"] for s in run.result["stages"]] == [key for key, _ in current]
    ends = month_ends(workspace=ws, now=run.created_at)
    assert [m["month_end"] for m in run.result["months"]] == [e.isoformat() for e in ends]
    differs = False
    for month, moment in zip(run.result["months"], ends, strict=True):
        for side, stages in (("current", current), ("proposed", proposed)):
            expected = _expected_funnel(stages, rows, signed, moment)
            got = {key: n for key, n in month[side].items() if n}
            assert got == expected, (side, moment)
        differs |= month["current"] != month["proposed"]
    assert differs  # the change shows in the funnel of this data set


def test_the_job_is_safe_to_run_twice_and_fails_in_words(ws, owner, history):
    stages_create_defaults(workspace=ws)
    proposal = proposal_parse(
        workspace=ws, body={"stage": "repeat", "rule": {"purchases": {"gte": 3}}}
    )
    run = whatif_funnel_start(workspace=ws, proposal=proposal, actor=Actor(user=owner.user))
    first = whatif_funnel_run(run_id=run.pk)
    again = whatif_funnel_run(run_id=run.pk)
    assert again.status == "done" and again.result == first.result
    assert again.finished_at == first.finished_at
    # A proposal naming a segment deleted since it was asked for fails, in words.
    broken = WhatIfRun.objects.create(
        workspace=ws,
        proposal={"stages": [{"key": "vip", "rule": {"segment": 999999}}]},
        steps_total=24,
    )
    failed = whatif_funnel_run(run_id=broken.pk)
    assert failed.status == "failed" and "segment" in failed.error
    assert Stage.objects.filter(workspace=ws, key="vip").count() == 0
