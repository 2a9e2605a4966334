"""Stage history in event time (issue 15): a year of history loaded in any order, in
batches, comes out exactly as an independent replay written here from the default
stage definitions computes it; a late event rewrites only what follows it; moves a
person made are kept; history triggers no journey."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.journeys.models import Journey, JourneyEnrolment
from contacts.models import Contact
from contacts.services import contacts_mark_changed
from lifecycle.hooks import transitions_dispatch
from lifecycle.models import ContactStage, Stage, StageTransition
from lifecycle.services import marked_contacts_evaluate, stages_replay
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
MICRO = dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class Ev:
    name: str
    at: dt.datetime
    revenue: Decimal | None = None


# -- the independent replay: the default stages, written out by hand -----------------


def stage_at(events: list[Ev], t: dt.datetime) -> str:
    seen = [e for e in events if e.at <= t]

    def last(name: str) -> dt.datetime | None:
        times = [e.at for e in seen if e.name == name]
        return max(times) if times else None

    def within(name: str, days: int) -> bool:
        moment = last(name)
        return moment is not None and moment >= t - days * DAY

    bought = last("purchase")
    orders = sum(1 for e in seen if e.name == "purchase" and e.revenue is not None)
    views = sum(1 for e in seen if e.name == "page_view" and e.at >= t - 30 * DAY)
    if within("referral_sent", 180) and within("purchase", 90):
        return "advocate"
    if orders >= 4 and within("purchase", 60):
        return "loyal"
    if bought is not None and bought < t - 180 * DAY:
        return "lapsed"
    if bought is not None and bought < t - 90 * DAY:
        return "at_risk"
    if orders >= 2:
        return "repeat"
    if orders >= 1:
        return "customer"
    if within("trial_started", 60) or within("cart_abandoned", 60) or views >= 5:
        return "lead"
    return "subscriber"


def expected_history(
    signup: dt.datetime, events: list[Ev], now: dt.datetime
) -> list[tuple[str | None, str, dt.datetime]]:
    """Every moment where the answer can change: the signup, each event, and each
    event plus each window of the rules (just after it)."""
    moments = {signup, now} | {e.at for e in events}
    moments |= {e.at + days * DAY + MICRO for e in events for days in (30, 60, 90, 180)}
    history: list[tuple[str | None, str, dt.datetime]] = []
    current: str | None = None
    for moment in sorted(m for m in moments if m <= now):
        stage = stage_at(events, moment)
        if stage != current:
            history.append((current, stage, moment))
            current = stage
    return history


def recorded_history(contact: Contact) -> list[tuple[str | None, str, dt.datetime]]:
    return [
        (t.from_stage.key if t.from_stage else None, t.to_stage.key, t.at)
        for t in StageTransition.objects.filter(contact=contact)
        .select_related("from_stage", "to_stage")
        .order_by("at", "id")
    ]


def evaluate_all(now: dt.datetime) -> None:
    while marked_contacts_evaluate(now=now):
        pass


def a_year(rng: random.Random, now: dt.datetime) -> tuple[dt.datetime, list[Ev]]:
    signup = now - dt.timedelta(seconds=rng.randrange(200, 365 * 86400))
    events: list[Ev] = []

    def moment() -> dt.datetime:
        # mostly after the signup; now and then a little before it
        start = signup - dt.timedelta(days=10)
        return start + dt.timedelta(seconds=rng.randrange(int((now - start).total_seconds())))

    for _ in range(rng.choice([0, 0, 1, 2, 3, 5, 7])):
        events.append(Ev("purchase", moment(), Decimal(rng.randrange(500, 20000)) / 100))
    for _ in range(rng.choice([0, 3, 8, 15])):
        events.append(Ev("page_view", moment()))
    for name in ("trial_started", "cart_abandoned", "referral_sent"):
        if rng.random() < 0.3:
            events.append(Ev(name, moment()))
    return signup, events


def test_a_year_loaded_in_any_order_replays_as_the_rules_say(ws, stages, api):
    rng = random.Random(15)
    now = timezone.now()
    people = {}
    for n in range(40):
        signup, events = a_year(rng, now)
        contact = ContactFactory.create(
            workspace=ws, email=f"h{n}@example.com", signed_up_at=signup
        )
        people[contact.pk] = (contact, signup, events)
    # The contacts exist (as a batch import would leave them, marked for the engine),
    # then their events come in shuffled batches through the API, evaluated as the
    # worker would in between.
    contacts_mark_changed(contact_ids=list(people), source="import")
    evaluate_all(now)
    items = [
        {
            "contact": {"id": contact.pk},
            "name": e.name,
            "occurred_at": e.at.isoformat(),
            **({"revenue": str(e.revenue)} if e.revenue is not None else {}),
        }
        for contact, _, events in people.values()
        for e in events
    ]
    rng.shuffle(items)
    assert len(items) > 200
    for start in range(0, len(items), 37):
        response = api.post("/api/v1/events/", {"batch": items[start : start + 37]}, format="json")
        assert response.status_code == 202, response.content
        evaluate_all(now)

    for contact, signup, events in people.values():
        assert recorded_history(contact) == expected_history(signup, events, now), contact.email
        current = ContactStage.objects.get(contact=contact)
        last = expected_history(signup, events, now)[-1]
        assert (current.stage.key, current.entered_at) == (last[1], last[2])
    causes = set(StageTransition.objects.filter(workspace=ws).values_list("cause", flat=True))
    assert causes == {"rule"}
    # A move an event caused names it; a move a time boundary caused names none.
    by_event = StageTransition.objects.filter(workspace=ws).exclude(event_name="")
    assert by_event.exists()
    for move in by_event:
        assert move.event_id is not None
        assert move.at == move.contact.events.get(pk=move.event_id).occurred_at
    assert all(t.recorded_at >= now for t in StageTransition.objects.filter(workspace=ws))


def test_a_late_event_rewrites_only_what_follows_and_keeps_a_manual_move(ws, stages):
    now = timezone.now()
    contact = ContactFactory.create(workspace=ws, signed_up_at=now - 400 * DAY)
    early = [
        Ev("purchase", now - 300 * DAY, Decimal("10")),
        Ev("purchase", now - 250 * DAY, Decimal("10")),
    ]
    for e in early:
        contact.events.create(workspace=ws, name=e.name, occurred_at=e.at, revenue=e.revenue)
    stages_replay(workspace=ws, since={contact.pk: None}, now=now)
    before = recorded_history(contact)
    assert before == expected_history(contact.signed_up_at, early, now)
    assert [s for _, s, _ in before] == ["subscriber", "customer", "repeat", "at_risk", "lapsed"]
    kept_ids = list(
        StageTransition.objects.filter(contact=contact, at__lt=now - 200 * DAY)
        .order_by("at")
        .values_list("id", flat=True)
    )
    # Someone moved the contact to Loyal by hand 100 days ago (not pinned now).
    manual = StageTransition.objects.create(
        workspace=ws,
        contact=contact,
        from_stage=stages["at_risk"],
        to_stage=stages["loyal"],
        at=now - 100 * DAY,
        cause="manual",
    )
    # Then an order from 200 days ago arrives.
    late = Ev("purchase", now - 200 * DAY, Decimal("30"))
    contact.events.create(workspace=ws, name=late.name, occurred_at=late.at, revenue=late.revenue)
    stages_replay(workspace=ws, since={contact.pk: late.at}, now=now)

    after = StageTransition.objects.filter(contact=contact).order_by("at", "id")
    assert [t.id for t in after if t.at < late.at] == kept_ids  # untouched, ids and all
    assert manual.pk in [t.id for t in after]
    assert [
        (t.from_stage.key if t.from_stage else None, t.to_stage.key, t.cause) for t in after
    ] == [
        (None, "subscriber", "rule"),
        ("subscriber", "customer", "rule"),
        ("customer", "repeat", "rule"),
        ("repeat", "at_risk", "rule"),  # 90 days after the late order, not the old one
        ("at_risk", "loyal", "manual"),
        ("loyal", "lapsed", "rule"),  # 180 days after it
    ]
    at_risk, lapsed = after[3], after[5]
    assert at_risk.at == late.at + 90 * DAY + MICRO
    assert lapsed.at == late.at + 180 * DAY + MICRO
    assert ContactStage.objects.get(contact=contact).stage == stages["lapsed"]
    # Replaying again changes nothing (same moves, same ids).
    ids = [t.id for t in after]
    assert stages_replay(workspace=ws, since={contact.pk: None}, now=now) == 0
    assert (
        list(
            StageTransition.objects.filter(contact=contact)
            .order_by("at", "id")
            .values_list("id", flat=True)
        )
        == ids
    )


def test_history_triggers_no_journey_and_recent_moves_do(ws, stages, api):
    journey = Journey.objects.create(
        workspace=ws,
        name="Welcome, customer",
        trigger={"kind": "stage_entered", "stage_id": stages["customer"].pk},
        status="live",
        live_since=timezone.now() - 400 * DAY,
    )
    old, fresh = (ContactFactory.create(workspace=ws) for _ in range(2))
    now = timezone.now()
    for contact, days in ((old, 200), (fresh, 0)):
        response = api.post(
            "/api/v1/events/",
            {
                "contact": {"id": contact.pk},
                "name": "purchase",
                "revenue": "12.00",
                "occurred_at": (now - days * DAY).isoformat(),
            },
            format="json",
        )
        assert response.status_code == 202
    evaluate_all(timezone.now())
    while transitions_dispatch():
        pass
    customer = Stage.objects.get(pk=stages["customer"].pk)
    assert StageTransition.objects.filter(contact=old, to_stage=customer).exists()
    enrolled = set(
        JourneyEnrolment.objects.filter(journey=journey).values_list("contact_id", flat=True)
    )
    assert enrolled == {fresh.pk}


def expected_with_known(
    signup: dt.datetime,
    events: list[Ev],
    now: dt.datetime,
    known: list[tuple[dt.datetime, str]],
) -> list[tuple[str | None, str, dt.datetime, str]]:
    """As expected_history, with known stage dates (imported) standing as facts: the
    rules act where the data changes (an event, now) or where their answer changes,
    so a known stage stands until then."""
    data = {e.at for e in events} | {now}
    moments = {signup} | data | {e.at + d * DAY + MICRO for e in events for d in (30, 60, 90, 180)}
    points = [(m, 0, "rule") for m in moments if m <= now] + [(at, 1, s) for at, s in known]
    history: list[tuple[str | None, str, dt.datetime, str]] = []
    current: str | None = None
    previous_rule: str | None = None
    for moment, order, what in sorted(points, key=lambda p: (p[0], p[1])):
        if order == 1:
            history.append((current, what, moment, "import"))
            current = what
            continue
        stage = stage_at(events, moment)
        acts = moment in data or stage != previous_rule
        previous_rule = stage
        if acts and stage != current:
            history.append((current, stage, moment, "rule"))
            current = stage
    return history


def test_contacts_and_known_stage_dates_by_csv_then_a_year_of_events(ws, stages, api):
    """Contacts with their signup dates and some known stage dates come by CSV (as
    a shop moving to Stagecraft has them), then a year of events in shuffled API
    batches: every move, rule-made or imported, is where the rules and the file say."""
    from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: PLC0415

    from contacts.services import (  # noqa: PLC0415
        import_job_create,
        import_job_run,
        import_job_start,
    )
    from workspaces.services import Actor  # noqa: PLC0415

    def run_csv(text: str, kind: str) -> None:
        actor = Actor(system="test")
        upload = SimpleUploadedFile("h.csv", text.encode(), content_type="text/csv")
        job = import_job_create(workspace=ws, upload=upload, actor=actor, kind=kind)
        import_job_start(job=job, mapping=job.mapping, match_on="email", actor=actor)
        done = import_job_run(job_id=job.pk)
        assert done is not None
        assert done.rejected_count == 0, list(done.row_errors.values())
        evaluate_all(now)

    rng = random.Random(1516)
    now = timezone.now()
    people = {}
    for n in range(25):
        signup, events = a_year(rng, now)
        known = []
        if n % 3 == 0:  # the old system knew when some became customers
            known.append((signup + dt.timedelta(days=rng.randint(1, 20)), "customer"))
        people[f"k{n}@example.com"] = (signup, events, known)
    run_csv(
        "Email,Signed up\n"
        + "".join(f"{email},{signup.isoformat()}\n" for email, (signup, _, _) in people.items()),
        "contacts",
    )
    run_csv(
        "Email,Stage,Date\n"
        + "".join(
            f"{email},{stage},{at.isoformat()}\n"
            for email, (_, _, known) in people.items()
            for at, stage in known
        ),
        "stage_history",
    )
    items = [
        {
            "contact": {"email": email},
            "name": e.name,
            "occurred_at": e.at.isoformat(),
            **({"revenue": str(e.revenue)} if e.revenue is not None else {}),
        }
        for email, (_, events, _) in people.items()
        for e in events
    ]
    rng.shuffle(items)
    for start in range(0, len(items), 40):
        response = api.post("/api/v1/events/", {"batch": items[start : start + 40]}, format="json")
        assert response.status_code == 202, response.content
        evaluate_all(now)

    imported = 0
    for email, (signup, events, known) in people.items():
        contact = Contact.objects.get(workspace=ws, email=email)
        assert contact.signed_up_at == signup
        got = [
            (t.from_stage.key if t.from_stage else None, t.to_stage.key, t.at, t.cause)
            for t in StageTransition.objects.filter(contact=contact)
            .select_related("from_stage", "to_stage")
            .order_by("at", "id")
        ]
        expected = expected_with_known(signup, events, now, known)
        # An imported move's from-stage is what was known when it was imported.
        assert [(to, at, cause) for _, to, at, cause in got] == [
            (to, at, cause) for _, to, at, cause in expected
        ], email
        assert [g[0] for g in got if g[3] == "rule"] == [e[0] for e in expected if e[3] == "rule"]
        imported += len(known)
    assert imported >= 8
