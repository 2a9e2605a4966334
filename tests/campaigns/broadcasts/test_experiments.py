"""A/B tests on broadcasts: exact split ratios, test pool, automatic winner on clicks
with a two-proportion z-test."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.utils import timezone

from campaigns.broadcasts.audience import split_counts
from campaigns.broadcasts.delivery import broadcast_materialise, broadcasts_advance
from campaigns.broadcasts.experiment import ArmResult, judge
from campaigns.models import Broadcast, BroadcastVariant
from campaigns.significance import two_proportion_p_value
from config.errors import InvalidInput
from messaging.models import Message
from tests.campaigns.broadcasts.helpers import (
    broadcast,
    contacts,
    messages_of,
    schedule_and_materialise,
    segment,
)
from tests.messaging.helpers import email_template, sms_template

pytestmark = pytest.mark.django_db


def test_split_counts_are_exact_to_within_one():
    assert split_counts(1999, [1, 1]) == [1000, 999]
    assert split_counts(10, [1, 1, 1]) == [3, 4, 3]
    assert split_counts(2000, [3, 1]) == [1500, 500]
    for total in range(0, 200):
        for weights in ([1, 1], [1, 2, 3], [5, 3, 2]):
            shares = split_counts(total, weights)
            assert sum(shares) == total
            for share, weight in zip(shares, weights, strict=True):
                assert abs(share - total * weight / sum(weights)) < 1


def variants(ws, *weights: int, default: int = 0, prefix: str = "V") -> list[dict]:
    return [
        {
            "label": chr(ord("A") + i),
            "template_id": email_template(ws, name=f"{prefix}{i}", subject=f"Subject {i}").pk,
            "weight": w,
            "is_default": i == default,
        }
        for i, w in enumerate(weights)
    ]


def test_1999_contacts_at_50_50_get_1000_and_999(ws):
    pro = segment(ws, "pro", "pro")
    contacts(ws, 1999, attributes={"plan": "pro"})
    b = broadcast(ws, email_template(ws), include_segment_ids=[pro.pk], variants=variants(ws, 1, 1))
    b = schedule_and_materialise(b)
    by_variant = Counter(m.variant_id for m in messages_of(b))
    a, bee = b.variants.order_by("label")
    assert by_variant == {a.pk: 1000, bee.pk: 999}
    assert {m.template_id for m in messages_of(b) if m.variant_id == bee.pk} == {bee.template_id}
    # The default variant's template is the broadcast's template.
    assert b.template_id == a.template_id


def test_weights_75_25_and_the_same_contacts_each_run(ws):
    pro = segment(ws, "pro", "pro")
    contacts(ws, 400, attributes={"plan": "pro"})
    b = broadcast(ws, email_template(ws), include_segment_ids=[pro.pk], variants=variants(ws, 3, 1))
    b = schedule_and_materialise(b)
    assignment = {m.contact_id: m.variant_id for m in messages_of(b)}
    assert sorted(Counter(assignment.values()).values()) == [100, 300]
    b.messages.delete()
    Broadcast.objects.filter(pk=b.pk).update(materialised_at=None)
    broadcast_materialise(broadcast_id=b.pk)
    assert {m.contact_id: m.variant_id for m in messages_of(b)} == assignment


def test_variants_are_validated(ws):
    pro = segment(ws, "pro", "pro")
    with pytest.raises(InvalidInput) as caught:
        broadcast(ws, email_template(ws), include_segment_ids=[pro.pk], variants=variants(ws, 1))
    assert caught.value.fields["variants"] == ["an A/B test needs at least two variants"]
    two = variants(ws, 1, 1, prefix="W")
    two[1]["is_default"] = True
    with pytest.raises(InvalidInput) as caught:
        broadcast(ws, email_template(ws, name="x"), variants=two)
    assert caught.value.fields["variants"] == ["exactly one variant is the default"]
    two[1]["is_default"] = False
    two[1]["template_id"] = sms_template(ws).pk
    with pytest.raises(InvalidInput) as caught:
        broadcast(ws, email_template(ws, name="y"), variants=two)
    assert caught.value.fields["variants"] == ["every variant needs a email template"]


def test_p_value_of_the_two_proportion_z_test():
    # 60/500 vs 30/500: pooled 0.09, se 0.0181, z = 3.32, p = 0.00092.
    assert two_proportion_p_value(60, 500, 30, 500) == pytest.approx(0.000917, abs=1e-5)
    # 33/500 vs 30/500: z = 0.39, p = 0.70.
    assert two_proportion_p_value(33, 500, 30, 500) == pytest.approx(0.696, abs=0.005)
    assert two_proportion_p_value(0, 0, 1, 10) == 1.0
    assert two_proportion_p_value(0, 10, 0, 10) == 1.0


def arm(label: str, sent: int, clicked: int, *, default: bool = False) -> ArmResult:
    return ArmResult(BroadcastVariant(label=label, is_default=default), sent, clicked=clicked)


def choose_winner(results: list[ArmResult]) -> tuple[BroadcastVariant, str]:
    judgement = judge(results, "clicks")
    return judgement.winner, judgement.reason


def test_winner_needs_significance_else_the_default_wins():
    winner, reason = choose_winner([arm("A", 500, 30, default=True), arm("B", 500, 60)])
    assert winner.label == "B" and reason.startswith("B wins on click rate")
    winner, reason = choose_winner([arm("A", 500, 30, default=True), arm("B", 500, 33)])
    assert winner.label == "A" and reason.startswith("not significant")
    winner, _ = choose_winner([arm("A", 500, 40, default=True), arm("B", 500, 20)])
    assert winner.label == "A"


def test_test_pool_then_the_winner_goes_to_the_rest(ws, monkeypatch):
    monkeypatch.setattr("campaigns.broadcasts.delivery.publish", lambda task, pk: None)
    pro = segment(ws, "pro", "pro")
    contacts(ws, 1000, attributes={"plan": "pro"})
    b = broadcast(
        ws,
        email_template(ws),
        include_segment_ids=[pro.pk],
        variants=variants(ws, 1, 1),
        test_pool_percent=20,
        winner_wait_hours=2,
    )
    b = schedule_and_materialise(b)
    a, bee = b.variants.order_by("label")
    first = messages_of(b)
    assert Counter(m.variant_id for m in first) == {a.pk: 100, bee.pk: 100}
    assert b.recipient_count == 200
    assert b.winner_due_at is not None
    assert b.winner_due_at >= timezone.now() + dt.timedelta(hours=1, minutes=59)
    # The pool was sent; B was clicked far more.
    now = timezone.now()
    b.messages.update(status="sent", sent_at=now)
    for variant, clicks in ((a, 5), (bee, 30)):
        ids = list(b.messages.filter(variant_id=variant.pk).values_list("pk", flat=True))[:clicks]
        Message.objects.filter(pk__in=ids).update(clicked_at=now)
    broadcasts_advance()
    b.refresh_from_db()
    assert b.status == "sending" and b.winner_variant_id is None  # still waiting
    Broadcast.objects.filter(pk=b.pk).update(winner_due_at=now - dt.timedelta(seconds=1))
    assert broadcasts_advance()["judged"] == 1
    b.refresh_from_db()
    assert b.winner_variant_id == bee.pk and "B wins on click rate" in b.winner_reason
    assert b.status == "sending"  # not sent before the rest are in the outbox
    broadcast_materialise(broadcast_id=b.pk)
    b.refresh_from_db()
    assert b.recipient_count == 1000
    rest = [m for m in messages_of(b) if m.pk not in {f.pk for f in first}]
    assert len(rest) == 800 and {m.variant_id for m in rest} == {bee.pk}
    assert {m.template_id for m in rest} == {bee.template_id}
    assert len({m.contact_id for m in messages_of(b)}) == 1000


def test_not_significant_test_pool_sends_the_default(ws, monkeypatch):
    monkeypatch.setattr("campaigns.broadcasts.delivery.publish", lambda task, pk: None)
    pro = segment(ws, "pro", "pro")
    contacts(ws, 100, attributes={"plan": "pro"})
    b = broadcast(
        ws,
        email_template(ws),
        include_segment_ids=[pro.pk],
        variants=variants(ws, 1, 1, default=0),
        test_pool_percent=50,
    )
    b = schedule_and_materialise(b)
    b.messages.update(status="sent", sent_at=timezone.now())
    b_variant = b.variants.get(label="B")
    one = b.messages.filter(variant_id=b_variant.pk).first()
    assert one is not None
    Message.objects.filter(pk=one.pk).update(clicked_at=timezone.now())
    Broadcast.objects.filter(pk=b.pk).update(winner_due_at=timezone.now())
    broadcasts_advance()
    b.refresh_from_db()
    assert b.winner_variant is not None and b.winner_variant.label == "A"
    assert b.winner_reason.startswith("not significant")
