"""Rebuilding event summaries from the raw events: everyone, as of a past moment, or
only some contacts (the replay benchmark rebuilds its sample day by day)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from contacts.models import EventSummary
from contacts.services import event_summaries_rebuild
from tests.factories import ContactFactory, EventFactory


def _summary(contact, name="purchase"):
    return EventSummary.objects.filter(contact=contact, name=name).first()


def test_rebuild_as_of_and_for_some_contacts_only(ws):
    now = timezone.now()
    ada, bob = ContactFactory.create(workspace=ws), ContactFactory.create(workspace=ws)
    for contact in (ada, bob):
        for days in (30, 10):
            EventFactory(
                workspace=ws,
                contact=contact,
                name="purchase",
                occurred_at=now - dt.timedelta(days=days),
                revenue=Decimal("20.00"),
            )

    event_summaries_rebuild(workspace_id=ws.pk)
    assert _summary(ada).count == 2 and _summary(bob).count == 2

    # Ada as she was 20 days ago; Bob untouched.
    event_summaries_rebuild(
        workspace_id=ws.pk, as_of=now - dt.timedelta(days=20), contact_ids=[ada.pk]
    )
    assert (_summary(ada).count, _summary(ada).revenue) == (1, Decimal("20.00"))
    assert _summary(ada).last_at == now - dt.timedelta(days=30)
    assert (_summary(bob).count, _summary(bob).revenue) == (2, Decimal("40.00"))

    # Before her first purchase she has no summary at all.
    event_summaries_rebuild(
        workspace_id=ws.pk, as_of=now - dt.timedelta(days=40), contact_ids=[ada.pk]
    )
    assert _summary(ada) is None and _summary(bob).count == 2
