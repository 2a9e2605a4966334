"""The contact page's stage history: both times when they differ, the cause in words."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from lifecycle.models import StageTransition
from lifecycle.services import stages_create_defaults
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def test_history_shows_happened_and_recorded_and_the_cause(owner, ws):
    stages = {s.key: s for s in stages_create_defaults(workspace=ws)}
    contact = ContactFactory.create(workspace=ws)
    now = timezone.now().replace(microsecond=0)
    common = {"workspace": ws, "contact": contact}
    StageTransition.objects.create(
        **common,
        to_stage=stages["subscriber"],
        at=dt.datetime(2025, 1, 10, 9, tzinfo=dt.UTC),
        recorded_at=now,
        cause="import",
        reason="imported from <b>old.csv</b>",
    )
    StageTransition.objects.create(
        **common,
        from_stage=stages["subscriber"],
        to_stage=stages["customer"],
        at=now - dt.timedelta(seconds=30),
        recorded_at=now,
        cause="rule",
        event_id=7,
        event_name="purchase<script>",
    )
    StageTransition.objects.create(
        **common,
        from_stage=stages["customer"],
        to_stage=stages["loyal"],
        at=now,
        recorded_at=now,
        cause="manual",
        actor_user=owner.user,
    )
    page = owner.web.get(f"/w/{ws.slug}/contacts/{contact.pk}/stage/").content.decode()
    moves = page.split('data-testid="stage-move"')[1:]
    assert len(moves) == 3
    loyal, customer, subscriber = moves
    assert f"Manual, by {owner.user.email}" in loyal
    assert ">recorded " not in loyal and ">happened " not in loyal
    # Within a minute of each other: one time only.
    assert "Rule — on event “purchase&lt;script&gt;”" in customer
    assert ">recorded " not in customer
    assert ">happened 10 Jan 2025, 09:00<" in subscriber
    assert f">recorded {now:%-d %b %Y, %H:%M}<" in subscriber  # the workspace's zone: UTC
    assert ">Import<" in subscriber
    assert "&lt;b&gt;old.csv&lt;/b&gt;" in subscriber
    assert "<script>" not in page
