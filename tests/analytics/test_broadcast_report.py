"""A broadcast's report in the dashboard: progress while it sends, then rates, revenue
and the A/B test's winner with its lift and confidence, per variant, as a table, a
chart's data and CSV; another workspace's member gets 404."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest
from django.utils import timezone

from campaigns.broadcasts.delivery import broadcast_materialise, broadcasts_advance
from campaigns.models import Broadcast
from messaging.models import Message
from tests.campaigns.broadcasts.helpers import (
    broadcast,
    contacts,
    schedule_and_materialise,
    segment,
)
from tests.campaigns.broadcasts.test_experiments import variants
from tests.factories import EventFactory
from tests.messaging.helpers import email_template

pytestmark = pytest.mark.django_db


@pytest.fixture
def ab(ws, monkeypatch):
    """1000 contacts; a 20% test pool split A/B; B clicked far more and won; the rest
    got B; two contacts bought after their message."""
    monkeypatch.setattr("campaigns.broadcasts.delivery.publish", lambda task, pk: None)
    pro = segment(ws, "pro", "pro")
    contacts(ws, 1000, attributes={"plan": "pro"})
    b = broadcast(
        ws,
        email_template(ws),
        name="Spring <sale>",
        include_segment_ids=[pro.pk],
        variants=variants(ws, 1, 1),
        test_pool_percent=20,
        winner_wait_hours=2,
    )
    b = schedule_and_materialise(b)
    a, bee = b.variants.order_by("label")
    now = timezone.now()
    b.messages.update(status="sent", sent_at=now)
    for variant, clicks in ((a, 5), (bee, 30)):
        ids = list(b.messages.filter(variant_id=variant.pk).values_list("pk", flat=True))[:clicks]
        Message.objects.filter(pk__in=ids).update(clicked_at=now, opened_at=now)
    Broadcast.objects.filter(pk=b.pk).update(winner_due_at=timezone.now())
    assert broadcasts_advance()["judged"] == 1
    broadcast_materialise(broadcast_id=b.pk)
    b.refresh_from_db()
    b.messages.filter(sent_at__isnull=True).update(status="sent", sent_at=now)
    buyers = list(b.messages.filter(variant_id=bee.pk).select_related("contact")[:2])
    for m in buyers:
        EventFactory.create(
            contact=m.contact,
            name="purchase",
            revenue="40.00",
            currency="USD",
            occurred_at=now + dt.timedelta(hours=1),
        )
    return b


def test_report_shows_rates_winner_lift_and_confidence(owner, ab):
    page = owner.web.get(f"/w/acme/campaigns/{ab.pk}/report/").content.decode()
    assert "Spring &lt;sale&gt;" in page
    assert "<strong>B</strong> won, +500.0% click rate over the default" in page
    assert "with over 99.9% confidence" in page
    assert 'data-arm-value="A">5.0%' in page and 'data-arm-value="B">30.0%' in page
    assert "two-proportion z-test of B against the default A" in page
    assert "$80.00" in page  # two purchases of 40 after a message
    found = re.search(
        r'<script id="broadcast-chart" type="application/json">(.*?)</script>', page, re.S
    )
    assert found is not None
    chart = json.loads(found.group(1))
    assert [s["name"] for s in chart["series"]] == ["A", "B"]


def test_csv_has_a_row_per_variant_and_the_total(owner, ab):
    response = owner.web.get(f"/w/acme/campaigns/{ab.pk}/report/", {"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["variant"] for r in rows] == ["All", "A", "B"]
    total = rows[0]
    assert int(total["messages"]) == 1000 and int(total["clicked"]) == 35
    assert total["revenue"] == "80.00"


def test_progress_while_sending(owner, ab):
    Broadcast.objects.filter(pk=ab.pk).update(status="sending")
    Message.objects.filter(pk__in=list(ab.messages.values_list("pk", flat=True)[:300])).update(
        status="scheduled", sent_at=None
    )
    fragment = owner.web.get(f"/w/acme/campaigns/{ab.pk}/progress/").content.decode()
    assert "700 of 1,000 handled" in fragment and "300 queued" in fragment
    assert "every 3s" in fragment
    Broadcast.objects.filter(pk=ab.pk).update(status="sent")
    done = owner.web.get(f"/w/acme/campaigns/{ab.pk}/progress/", {"poll": "1"})
    assert done["HX-Refresh"] == "true"
    assert "HX-Refresh" not in owner.web.get(f"/w/acme/campaigns/{ab.pk}/progress/")


def test_outsider_gets_404(ab, outsider):
    for path in ("report", "progress"):
        assert outsider.web.get(f"/w/acme/campaigns/{ab.pk}/{path}/").status_code == 404
        assert outsider.web.get(f"/w/globex/campaigns/{ab.pk}/{path}/").status_code == 404
