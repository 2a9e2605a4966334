"""Time alone moves contacts (no purchase for 90 days): the periodic sweep finds them
and the replay dates each move when its boundary was crossed, not when the sweep ran."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from contacts.services import event_summaries_refresh
from lifecycle.models import ContactStage
from lifecycle.services import stages_replay, sweep_now
from lifecycle.services.sweeps import sweep_chunk, sweep_start
from tests.factories import ContactFactory
from tests.lifecycle.test_replay import DAY, MICRO, Ev, expected_history, recorded_history

pytestmark = pytest.mark.django_db


def test_a_periodic_sweep_dates_time_crossings_at_the_boundary(ws, stages):
    """Time alone moves a customer to at risk (and on to lapsed when the sweep comes
    late): the periodic sweep records each move when the boundary was crossed, not
    when the sweep ran; a pinned contact stays, and a second sweep writes nothing."""
    t0 = timezone.now() - 400 * DAY
    buyer = ContactFactory.create(workspace=ws, signed_up_at=t0)
    pinned = ContactFactory.create(workspace=ws, signed_up_at=t0)
    order = Ev("purchase", t0 + 10 * DAY, Decimal("25"))
    for contact in (buyer, pinned):
        contact.events.create(
            workspace=ws, name=order.name, occurred_at=order.at, revenue=order.revenue
        )
    event_summaries_refresh(contact_ids=[buyer.pk, pinned.pk])
    # Both were evaluated when the order came in.
    stages_replay(workspace=ws, since={buyer.pk: None, pinned.pk: None}, now=order.at + DAY)
    ContactStage.objects.filter(contact=pinned).update(pinned=True)
    assert recorded_history(buyer) == [
        (None, "subscriber", t0),
        ("subscriber", "customer", order.at),
    ]

    # No sweep ran for a year; the periodic one runs now.
    now = timezone.now()
    run = sweep_start(workspace=ws, reason="periodic", now=now)
    assert sweep_chunk(run_id=run.pk, low=0, high=2**63 - 1, now=now) == 2
    assert recorded_history(buyer) == expected_history(t0, [order], now)
    assert recorded_history(buyer)[-2:] == [
        ("customer", "at_risk", order.at + 90 * DAY + MICRO),
        ("at_risk", "lapsed", order.at + 180 * DAY + MICRO),
    ]
    assert ContactStage.objects.get(contact=buyer).stage == stages["lapsed"]
    assert ContactStage.objects.get(contact=pinned).stage == stages["customer"]
    assert sweep_chunk(run_id=run.pk, low=0, high=2**63 - 1, now=now) == 0
    # A sweep after a rule change dates its moves now: the change is their cause.
    assert sweep_now(workspace=ws, now=now) == 0
