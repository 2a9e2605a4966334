"""Campaign performance: a broadcast's counts per A/B variant and its conversions,
attributed last-touch, checked against a computation over the raw rows; and messages
by the stage each contact was in. An outsider gets 404."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from analytics.rollups import rollups_rebuild
from campaigns.broadcasts.services import broadcast_create
from campaigns.journeys.triggers import enrol_api
from campaigns.models import JourneyStep
from contacts.models import Event
from lifecycle.models import Stage
from lifecycle.services import stages_create_defaults
from messaging.models import Message
from tests.campaigns.journeys.helpers import advance, journey, later, step
from tests.factories import (
    BroadcastVariantFactory,
    ContactFactory,
    EventFactory,
    MessageFactory,
    StageTransitionFactory,
)
from tests.messaging.helpers import email_template
from workspaces.services import Actor

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


@pytest.fixture
def campaign(ws: Any) -> dict[str, Any]:
    template = email_template(ws)
    broadcast = broadcast_create(
        workspace=ws,
        data={"name": "June sale", "channel": "email", "template_id": template.pk},
        actor=Actor(system="test"),
    )
    a = BroadcastVariantFactory.create(broadcast=broadcast, label="A", template=template)
    b = BroadcastVariantFactory.create(broadcast=broadcast, label="B", template=template)
    contacts = [ContactFactory.create(workspace=ws) for _ in range(8)]
    plan = [  # variant, sent, opened, clicked, unsubscribed, complained, status
        (a, True, True, True, False, False, "delivered"),
        (a, True, True, False, False, False, "delivered"),
        (a, True, False, False, True, False, "sent"),
        (a, False, False, False, False, False, "suppressed"),
        (b, True, True, True, False, False, "delivered"),
        (b, True, False, False, False, True, "delivered"),
        (b, True, False, False, False, False, "bounced"),
        (b, False, False, False, False, False, "failed"),
    ]
    messages = []
    for contact, (variant, sent, opened, clicked, unsub, complaint, status) in zip(
        contacts, plan, strict=True
    ):
        messages.append(
            MessageFactory.create(
                workspace=ws,
                contact=contact,
                channel="email",
                template=template,
                origin_kind="broadcast",
                origin_id=broadcast.pk,
                variant_id=variant.pk,
                idempotency_key=f"broadcast:{broadcast.pk}:{contact.pk}",
                status=status,
                due_at=T0,
                sent_at=T0 if sent else None,
                delivered_at=T0 + HOUR if status == "delivered" else None,
                bounced_at=T0 + HOUR if status == "bounced" else None,
                opened_at=T0 + 2 * HOUR if opened else None,
                clicked_at=T0 + 3 * HOUR if clicked else None,
                unsubscribed_at=T0 + 3 * HOUR if unsub else None,
                complained_at=T0 + 3 * HOUR if complaint else None,
            )
        )
    return {"broadcast": broadcast, "contacts": contacts, "messages": messages, "a": a, "b": b}


def _purchase(contact: Any, at: dt.datetime, revenue: str, name: str = "purchase") -> Event:
    return EventFactory.create(
        workspace=contact.workspace,
        contact=contact,
        name=name,
        occurred_at=at,
        revenue=Decimal(revenue),
    )


def test_counts_conversions_and_revenue_per_variant(api: Any, ws: Any, campaign: Any) -> None:
    c = campaign["contacts"]
    events = [
        _purchase(c[0], T0 + DAY, "40.00"),  # A, in the window
        _purchase(c[0], T0 + 2 * DAY, "10.50"),  # A again: same contact, more revenue
        _purchase(c[1], T0 + 8 * DAY, "99.00"),  # A, after the 7-day window
        _purchase(c[2], T0 - HOUR, "25.00"),  # A, before the message
        _purchase(c[4], T0 + 3 * DAY, "60.00"),  # B, but a later message touched it first
        _purchase(c[5], T0 + 5 * DAY, "15.25"),  # B
        _purchase(c[7], T0 + DAY, "70.00"),  # B, never sent: no conversion
        _purchase(c[5], T0 + DAY, "5.00", name="page_view"),  # not a conversion event
    ]
    template = email_template(ws, name="Later")
    later = MessageFactory.create(
        workspace=ws,
        contact=c[4],
        channel="email",
        template=template,
        idempotency_key="later",
        status="sent",
        sent_at=T0 + 2 * DAY,
    )
    # The definition, over the raw rows: the last message sent before each event,
    # within 7 days, gets it.
    sent = [
        (
            m.contact_id,
            m.sent_at,
            m.origin_id if m.origin_kind == "broadcast" else None,
            m.variant_id,
        )
        for m in Message.objects.filter(workspace=ws, sent_at__isnull=False)
        if m.sent_at is not None
    ]
    expected: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.name != "purchase":
            continue
        before = [m for m in sent if m[0] == event.contact_id and m[1] < event.occurred_at]
        if not before:
            continue
        _, sent_at, broadcast_id, variant_id = max(before, key=lambda m: m[1])
        if broadcast_id != campaign["broadcast"].pk or event.occurred_at > sent_at + 7 * DAY:
            continue
        label = "A" if variant_id == campaign["a"].pk else "B"
        entry = expected.setdefault(label, {"contacts": set(), "revenue": Decimal(0)})
        entry["contacts"].add(event.contact_id)
        entry["revenue"] += event.revenue
    assert later.pk  # the later message exists

    body = api.get(f"/api/v1/analytics/campaigns/{campaign['broadcast'].pk}/performance/").json()
    variants = {v["variant"]: v for v in body["variants"]}
    assert set(variants) == {"A", "B"}
    a, b = variants["A"], variants["B"]
    assert (a["messages"], a["sent"], a["delivered"], a["opened"], a["clicked"]) == (4, 3, 2, 2, 1)
    assert (a["unsubscribed"], a["suppressed"], a["complained"]) == (1, 1, 0)
    assert (b["messages"], b["sent"], b["delivered"], b["bounced"], b["failed"]) == (4, 3, 2, 1, 1)
    assert (b["opened"], b["clicked"], b["complained"]) == (1, 1, 1)
    for label, got in variants.items():
        assert got["converted"] == len(expected.get(label, {}).get("contacts", ()))
        assert Decimal(got["revenue"]) == expected.get(label, {}).get("revenue", Decimal(0))
    assert (a["converted"], a["revenue"]) == (1, "50.50")
    assert (b["converted"], b["revenue"]) == (1, "15.25")
    assert a["open_rate"] == round(2 / 3, 4) and a["conversion_rate"] == round(1 / 3, 4)
    assert body["total"]["converted"] == 2 and body["total"]["revenue"] == "65.75"
    assert body["total"]["messages"] == 8 and body["total"]["sent"] == 6

    wider = api.get(
        f"/api/v1/analytics/campaigns/{campaign['broadcast'].pk}/performance/?window_days=10"
    ).json()
    assert {v["variant"]: v["revenue"] for v in wider["variants"]}["A"] == "149.50"
    views = api.get(
        f"/api/v1/analytics/campaigns/{campaign['broadcast'].pk}/performance/?event=page_view"
    ).json()
    assert views["total"]["converted"] == 1 and views["conversion"]["events"] == ["page_view"]


def test_bad_parameters_and_outsiders(api: Any, outsider_api: Any, campaign: Any) -> None:
    url = f"/api/v1/analytics/campaigns/{campaign['broadcast'].pk}/performance/"
    for query in ("window_days=0", "window_days=91", "window_days=week"):
        response = api.get(f"{url}?{query}")
        assert response.status_code == 400
        assert "window_days" in response.json()["error"]["fields"]
    assert outsider_api.get(url).status_code == 404
    assert api.get("/api/v1/analytics/campaigns/999999/performance/").status_code == 404


def test_messages_by_the_stage_at_send_time(api: Any, ws: Any, campaign: Any) -> None:
    stages_create_defaults(workspace=ws)
    lead, customer = (Stage.objects.get(workspace=ws, key=k) for k in ("lead", "customer"))
    c = campaign["contacts"]
    for contact in c:  # everyone a lead before the sends...
        StageTransitionFactory.create(
            workspace=ws, contact=contact, to_stage=lead, at=T0 - 10 * DAY, cause="rule", reason="t"
        )
    # ...and the first contact a customer before it was sent to: its message counts there
    StageTransitionFactory.create(
        workspace=ws,
        contact=c[0],
        from_stage=lead,
        to_stage=customer,
        at=T0 - HOUR,
        cause="rule",
        reason="t",
    )
    rollups_rebuild(workspace_id=ws.pk)
    body = api.get("/api/v1/analytics/messages/?start=2026-05-01&end=2026-06-30").json()
    by_stage = {row["stage"]: row for row in body["stages"]}
    assert by_stage["customer"]["email"] == 1
    assert by_stage["lead"]["email"] == 5  # six were sent
    assert sum(row["sms"] for row in body["stages"]) == 0


def test_journey_performance_per_send_step(ws: Any, api: Any, outsider_api: Any) -> None:
    template = email_template(ws, name="Journey mail")
    j = journey(
        ws,
        {"kind": "manual"},
        [
            step("first", "send_email", template_id=template.pk, next="pause"),
            step("pause", "wait", duration={"days": 1}, next="second"),
            step("second", "send_email", template_id=template.pk),
        ],
        goal={"event": {"name": "purchase"}},
    )
    buyer, reader, idle = (ContactFactory.create(workspace=ws) for _ in range(3))
    enrol_api(j, [buyer.pk, reader.pk, idle.pk])
    advance()
    advance(later(days=1, minutes=1))
    messages = Message.objects.filter(origin_kind="journey_step")
    assert messages.count() == 6
    messages.update(sent_at=T0)

    step_two = JourneyStep.objects.get(journey=j, key="second")
    Message.objects.filter(
        origin_kind="journey_step", origin_id=step_two.pk, contact=reader
    ).update(opened_at=T0 + HOUR, clicked_at=T0 + HOUR, sent_at=T0 + DAY)
    Message.objects.filter(origin_kind="journey_step", origin_id=step_two.pk, contact=buyer).update(
        sent_at=T0 + DAY
    )
    EventFactory.create(
        workspace=ws,
        contact=buyer,
        name="purchase",
        revenue=Decimal("12.50"),
        occurred_at=T0 + 2 * DAY,
    )
    body = api.get(f"/api/v1/analytics/journeys/{j.pk}/performance/").json()
    by_step = {row["step"]: row for row in body["steps"]}
    assert [row["step"] for row in body["steps"]] == ["first", "second"]
    assert (by_step["first"]["sent"], by_step["first"]["converted"]) == (3, 0)
    assert (by_step["second"]["clicked"], by_step["second"]["converted"]) == (1, 1)
    assert by_step["second"]["revenue"] == "12.50"
    assert body["total"]["sent"] == 6 and body["goal"]["entered"] == 3
    assert outsider_api.get(f"/api/v1/analytics/journeys/{j.pk}/performance/").status_code == 404
