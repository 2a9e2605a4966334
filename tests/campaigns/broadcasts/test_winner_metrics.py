"""A/B winners on opens, conversions and revenue, and variants of subject line and
send time. The expected winner and confidence are computed here from the outcomes the
test itself made (its own z statistic with scipy's normal distribution, and scipy's
Welch t-test on the per-recipient revenue arrays), not from the product's sums."""

from __future__ import annotations

import datetime as dt
import math
import random
import zoneinfo
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from scipy import stats

from analytics.figures.campaigns import campaign_performance
from campaigns.broadcasts.delivery import broadcast_materialise, broadcasts_advance
from campaigns.broadcasts.experiment import arm_results
from campaigns.broadcasts.selectors import broadcast_test_result
from campaigns.models import Broadcast
from campaigns.significance import welch_p_value
from config.errors import InvalidInput
from contacts.models import Event
from messaging.models import Message
from tests.campaigns.broadcasts.helpers import (
    broadcast,
    contacts,
    run_once,
    schedule_and_materialise,
    segment,
)
from tests.factories import ContactFactory
from tests.messaging.helpers import email_template, sms_template

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    monkeypatch.setattr("campaigns.broadcasts.delivery.publish", lambda task, pk: None)


def subject_variants(template_id: int) -> list[dict]:
    return [
        {"label": "A", "template_id": template_id, "subject": "Autumn roast", "is_default": True},
        {"label": "B", "subject": "{{ first_name|default:'Hi' }}, a roast for you"},
    ]


def sent_test(ws, n: int, **data):
    pro = segment(ws, "pro", "pro")
    contacts(ws, n, attributes={"plan": "pro"})
    template = email_template(ws)
    b = broadcast(
        ws,
        template,
        include_segment_ids=[pro.pk],
        variants=subject_variants(template.pk),
        test_pool_percent=50,
        **data,
    )
    b = schedule_and_materialise(b)
    sent_at = timezone.now() - dt.timedelta(hours=5)
    b.messages.update(status="sent", sent_at=sent_at)
    a, bee = b.variants.order_by("label")
    pool = {
        v.label: list(
            b.messages.filter(variant_id=v.pk)
            .order_by("contact_id")
            .values_list("contact_id", flat=True)
        )
        for v in (a, bee)
    }
    return b, pool, sent_at


def buy(ws, contact_id: int, when: dt.datetime, revenue: str, name: str = "purchase") -> None:
    Event.objects.create(
        workspace=ws,
        contact_id=contact_id,
        name=name,
        revenue=Decimal(revenue),
        currency="USD",
        occurred_at=when,
    )


def judge_now(b: Broadcast) -> Broadcast:
    Broadcast.objects.filter(pk=b.pk).update(winner_due_at=timezone.now())
    assert broadcasts_advance()["judged"] == 1
    b.refresh_from_db()
    return b


def winner_label(b: Broadcast) -> str:
    assert b.winner_variant is not None
    return b.winner_variant.label


def result_of(b: Broadcast) -> dict[str, Any]:
    result = broadcast_test_result(b)
    assert result is not None
    return result


def z_test_p(x1: int, n1: int, x2: int, n2: int) -> float:
    pooled = (x1 + x2) / (n1 + n2)
    z = (x1 / n1 - x2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return float(2 * stats.norm.sf(abs(z)))


def test_conversions_count_the_broadcasts_event_in_its_window_last_touch(ws):
    b, pool, sent_at = sent_test(
        ws, 400, winner_metric="conversions", conversion_event="order", conversion_window_days=3
    )
    assert len(pool["A"]) == len(pool["B"]) == 100
    # A: 4 convert. B: 18 convert; and things that must not count.
    for cid in pool["A"][:4]:
        buy(ws, cid, sent_at + dt.timedelta(hours=2), "10", name="order")
    for cid in pool["B"][:18]:
        buy(ws, cid, sent_at + dt.timedelta(hours=1), "10", name="order")
    a_rest = pool["A"][50:]
    buy(ws, a_rest[0], sent_at - dt.timedelta(hours=1), "10", name="order")  # before
    buy(ws, a_rest[1], sent_at + dt.timedelta(days=4), "10", name="order")  # after the window
    buy(ws, a_rest[2], sent_at + dt.timedelta(hours=1), "10", name="purchase")  # other event
    # A later message reached this contact before it ordered: last touch is that one.
    Message.objects.create(
        workspace=ws,
        contact_id=a_rest[3],
        channel="email",
        idempotency_key="other",
        status="sent",
        sent_at=sent_at + dt.timedelta(minutes=30),
    )
    buy(ws, a_rest[3], sent_at + dt.timedelta(hours=1), "10", name="order")
    results = {r.variant.label: r for r in arm_results(b)}
    assert (results["A"].converted, results["B"].converted) == (4, 18)
    # The same definition as the campaign performance figures.
    figures = campaign_performance(workspace=ws, broadcast=b, event_names=["order"], window_days=3)
    assert {v["variant"]: v["converted"] for v in figures["variants"]} == {"A": 4, "B": 18}

    expected_p = z_test_p(18, 100, 4, 100)
    assert expected_p < 0.05
    b = judge_now(b)
    assert b.winner_variant is not None and winner_label(b) == "B"
    assert b.winner_reason.startswith("B wins on conversion rate: B 18/100 vs A 4/100")
    result = result_of(b)
    assert result is not None and result["winner"] == "B" and result["decided"]
    assert result["confidence"] == pytest.approx(1 - expected_p, abs=1e-9)
    assert result["lift"] == pytest.approx((0.18 - 0.04) / 0.04)


def test_opens_decide_when_clicks_would_not(ws):
    b, pool, _ = sent_test(ws, 200, winner_metric="opens")
    now = timezone.now()
    Message.objects.filter(contact_id__in=pool["A"][:40], origin_id=b.pk).update(opened_at=now)
    Message.objects.filter(contact_id__in=pool["B"][:20], origin_id=b.pk).update(
        opened_at=now, clicked_at=now
    )
    # B has more clicks (20 vs 0) but A more opens (40 vs 20): on opens the default
    # A is best, so A is kept and the report compares B against it.
    b = judge_now(b)
    assert winner_label(b) == "A"
    assert b.winner_reason.startswith("A (default) has the best open rate (40/50)")
    result = result_of(b)
    assert result["challenger"] == "B" and result["winner"] == "A"
    assert result["confidence"] == pytest.approx(1 - z_test_p(20, 50, 40, 50), abs=1e-9)


@pytest.mark.parametrize("seed", [3, 11])
def test_revenue_per_recipient_with_welchs_t_test(ws, seed):
    b, pool, sent_at = sent_test(ws, 600, winner_metric="revenue")
    rng = random.Random(seed)
    per_contact = {}
    for label, buyers, low, high in (("A", 12, 10, 60), ("B", 30, 40, 140)):
        for cid in pool[label][:buyers]:
            # Some buy twice: revenue per recipient sums the contact's orders.
            orders = [rng.randint(low, high) for _ in range(rng.choice([1, 1, 2]))]
            for amount in orders:
                buy(ws, cid, sent_at + dt.timedelta(hours=1), f"{amount}.50")
            per_contact[cid] = sum(amount + 0.5 for amount in orders)
    arrays = {label: [per_contact.get(cid, 0.0) for cid in pool[label]] for label in pool}
    expected = stats.ttest_ind(arrays["B"], arrays["A"], equal_var=False)
    assert expected.pvalue < 0.05
    b = judge_now(b)
    assert winner_label(b) == "B" and "wins on revenue per recipient" in b.winner_reason
    result = result_of(b)
    assert result["test"] == "Welch's t-test"
    assert result["confidence"] == pytest.approx(1 - expected.pvalue, abs=1e-9)
    means = {label: sum(values) / len(values) for label, values in arrays.items()}
    assert result["lift"] == pytest.approx((means["B"] - means["A"]) / means["A"])
    figures = campaign_performance(workspace=ws, broadcast=b)
    revenue = {v["variant"]: v["revenue"] for v in figures["variants"]}
    arms = {arm["label"]: arm for arm in result["arms"]}
    assert float(revenue["B"]) == pytest.approx(arms["B"]["revenue"])
    assert float(revenue["A"]) == pytest.approx(arms["A"]["revenue"])


def test_revenue_difference_too_small_keeps_the_default(ws):
    b, pool, sent_at = sent_test(ws, 200, winner_metric="revenue")
    buy(ws, pool["A"][0], sent_at + dt.timedelta(hours=1), "50")
    buy(ws, pool["B"][0], sent_at + dt.timedelta(hours=1), "55")
    b = judge_now(b)
    assert winner_label(b) == "A" and b.winner_reason.startswith("not significant")


def test_welch_p_value_matches_scipy_on_raw_samples():
    rng = random.Random(5)
    for _ in range(20):
        a = [rng.choice([0.0, 0.0, 0.0, rng.uniform(5, 90)]) for _ in range(rng.randint(5, 300))]
        b = [rng.choice([0.0, 0.0, rng.uniform(5, 120)]) for _ in range(rng.randint(5, 300))]
        p = welch_p_value(
            len(a), sum(a), sum(x * x for x in a), len(b), sum(b), sum(x * x for x in b)
        )
        assert p == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-6)
    assert welch_p_value(1, 5, 25, 10, 0, 0) == 1.0  # too few to have a variance
    assert welch_p_value(10, 0, 0, 10, 0, 0) == 1.0  # no revenue anywhere


def test_a_subject_variant_is_personalised_and_sent(ws, settings):
    pro = segment(ws, "pro", "pro")
    for i in range(6):
        ContactFactory.create(
            workspace=ws, email=f"r{i}@example.com", first_name="Robin", attributes={"plan": "pro"}
        )
    template = email_template(ws, subject="Template subject")
    b = broadcast(
        ws, template, include_segment_ids=[pro.pk], variants=subject_variants(template.pk)
    )
    assert [(v.label, v.template_id, v.subject) for v in b.variants.order_by("label")] == [
        ("A", template.pk, "Autumn roast"),
        ("B", template.pk, "{{ first_name|default:'Hi' }}, a roast for you"),
    ]
    b = schedule_and_materialise(b)
    run_once()
    subjects = {m.variant_id: m.subject for m in b.messages.filter(status="sent")}
    a, bee = b.variants.order_by("label")
    assert subjects == {a.pk: "Autumn roast", bee.pk: "Robin, a roast for you"}


def test_subject_and_send_time_variants_are_validated(ws):
    pro = segment(ws, "pro", "pro")
    template = email_template(ws)
    bad = subject_variants(template.pk)
    bad[1]["subject"] = "{% if %}"
    with pytest.raises(InvalidInput) as caught:
        broadcast(ws, template, include_segment_ids=[pro.pk], variants=bad)
    assert caught.value.fields["variants"][0].startswith("B: subject:")
    sms = sms_template(ws)
    with pytest.raises(InvalidInput) as caught:
        broadcast(ws, sms, name="s", variants=subject_variants(sms.pk))
    assert caught.value.fields["variants"] == ["A: a subject line is for email only"]
    timed: list[dict[str, Any]] = [
        {"label": "A", "is_default": True},
        {"label": "B", "send_at": "2030-05-01T18:00:00+00:00"},
    ]
    with pytest.raises(InvalidInput) as caught:
        broadcast(ws, template, name="t", schedule="local", variants=timed)
    assert "local and best-time schedules" in caught.value.fields["variants"][0]
    timed[1]["send_at"] = "tomorrow"
    with pytest.raises(InvalidInput) as caught:
        broadcast(ws, template, name="u", variants=timed)
    assert caught.value.fields["variants"] == [
        "B: send_at must be an ISO 8601 instant with a UTC offset"
    ]
    for field, value in (("winner_metric", "likes"), ("conversion_window_days", 91)):
        with pytest.raises(InvalidInput) as caught:
            broadcast(ws, template, name="v", **{field: value})
        assert field in caught.value.fields


def test_a_send_time_test_sends_the_rest_at_the_winning_time_of_day(ws):
    ws.time_zone = "Europe/Paris"
    ws.save(update_fields=["time_zone"])
    zone = zoneinfo.ZoneInfo("Europe/Paris")
    pro = segment(ws, "pro", "pro")
    contacts(ws, 400, attributes={"plan": "pro"})
    template = email_template(ws)
    today = timezone.now().astimezone(zone).date()
    morning = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(9, 0), tzinfo=zone)
    evening = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(19, 30), tzinfo=zone)
    b = broadcast(
        ws,
        template,
        include_segment_ids=[pro.pk],
        schedule="at",
        send_at=morning.isoformat(),
        variants=[
            {"label": "A", "is_default": True},
            {"label": "B", "send_at": evening.isoformat()},
        ],
        test_pool_percent=50,
        winner_wait_hours=3,
    )
    b = schedule_and_materialise(b)
    a, bee = b.variants.order_by("label")
    dues = {
        label: set(b.messages.filter(variant_id=v.pk).values_list("due_at", flat=True))
        for label, v in (("A", a), ("B", bee))
    }
    assert dues == {"A": {morning}, "B": {evening}}
    assert b.winner_due_at == evening + dt.timedelta(hours=3)
    # Sent; the evening arm was opened far more and wins.
    Broadcast.objects.filter(pk=b.pk).update(status="sending")
    b.messages.update(status="sent", sent_at=timezone.now())
    ids = list(b.messages.filter(variant_id=bee.pk).values_list("pk", flat=True)[:60])
    Message.objects.filter(pk__in=ids).update(clicked_at=timezone.now())
    ids = list(b.messages.filter(variant_id=a.pk).values_list("pk", flat=True)[:10])
    Message.objects.filter(pk__in=ids).update(clicked_at=timezone.now())
    Broadcast.objects.filter(pk=b.pk).update(winner_due_at=timezone.now())
    due = timezone.now()
    broadcasts_advance()
    b.refresh_from_db()
    assert b.winner_variant_id == bee.pk
    broadcast_materialise(broadcast_id=b.pk)
    rest = b.messages.filter(created_at__gt=due)
    assert rest.count() == 200
    (when,) = set(rest.values_list("due_at", flat=True))
    local = when.astimezone(zone)
    assert local.time() == dt.time(19, 30) and when > due
    assert when - due <= dt.timedelta(days=1)
    assert set(rest.values_list("variant_id", flat=True)) == {bee.pk}
