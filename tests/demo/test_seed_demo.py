"""The seed_demo command: a believable demo workspace, the same for the same seed,
built once, and with nothing in it that happens after now."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from unittest import mock

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import models
from django.test import Client
from django.utils import timezone

from analytics.figures import surveys as survey_figures
from analytics.figures.common import NO_FILTERS, Filters, Period
from analytics.figures.loyalty import loyalty_report
from analytics.figures.surveys import SurveyQuery, survey_overview, survey_results
from analytics.report_query import local_today
from analytics.services import drift_check
from campaigns.models import Broadcast, JourneyStep
from catalog.models import Product, ProductPair
from catalog.recommendations import recommendations_for_contact, similar_products
from contacts.models import Contact, Event, Segment
from lifecycle.models import ContactStage
from lifecycle.services import sweep_now
from loyalty.models import (
    LedgerEntry,
    PointsBalance,
    Programme,
    Redemption,
    Referral,
    TierChange,
)
from messaging.models import Template
from messaging.services.previews import template_preview
from surveys.models import Review, Survey
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db

# Columns that say when something happened; a demo row with one of them after now is
# missing from today's figures (date-dependent tests then fail at some hours of the day).
HAPPENED = {"created_at", "occurred_at", "at", "recorded_at", "sent_at", "delivered_at"}


def _survey_report_has_shapes(workspace, journey_id):
    """The surveys' report shows real shapes: advocates score above lapsed customers,
    email and SMS have response rates, the delivery CSAT is answered through its
    journey, and some answers carry comments."""
    today = timezone.now().date()
    period = Period(today - dt.timedelta(days=365), today)
    nps = Survey.objects.get(workspace=workspace, name="Quarterly NPS")
    got = survey_results(SurveyQuery(workspace, nps, period, "month", None, NO_FILTERS))
    assert got["answers"] > 20 and got["comments"] > 0
    by_stage = {row["stage"]: row for row in got["by_stage"]}
    happy = [by_stage[s]["nps"] for s in ("Advocate", "Loyal", "Repeat customer") if s in by_stage]
    unhappy = [by_stage[s]["nps"] for s in ("At risk", "Lapsed") if s in by_stage]
    assert happy and unhappy and min(happy) > max(unhappy)
    rates = {row["channel"]: row["response_rate"] for row in got["by_channel"]}
    assert 0.1 < rates["email"] < 0.8
    csat = Survey.objects.get(workspace=workspace, name="Delivery satisfaction")
    got = survey_results(SurveyQuery(workspace, csat, period, "month", None, NO_FILTERS))
    assert [row["journey_id"] for row in got["by_journey"]] == [journey_id]
    assert got["by_journey"][0]["answers"] == got["answers"] > 0


def _answer_sums_follow_the_answers(workspace):
    """The overview's NPS and CSAT by source (read from the answer sums by group) are
    the sources' raw answers: the demo's answers, written in bulk as settled history,
    are in the sums; the drift check finds nothing to say of them."""
    period = Period(dt.date(2025, 7, 1), dt.date(2026, 6, 30))
    contact = Contact.objects.filter(workspace=workspace).order_by("pk").first()
    assert contact is not None
    filters = Filters(source=contact.attributes["signup_source"])
    summed = survey_overview(workspace=workspace, period=period, filters=filters)
    with mock.patch.object(survey_figures, "filtered_totals", return_value=None):
        raw = survey_overview(workspace=workspace, period=period, filters=filters)
    assert summed == raw and summed["nps"]["answers"] > 0 and summed["csat"]["answers"] > 0
    check = drift_check(workspace=workspace, sample=None, repair=False)
    for table in ("analytics_contactanswerday", "analytics_answergroupday"):
        assert check.tables[table]["checked"] > 0 and check.tables[table]["differing"] == 0


def _reviews_have_shapes(workspace):
    """A review request asked after purchases, about their products: most reviews
    approved, some pending and a few rejected, mostly good stars with a few bad, and
    the widget's data lists the approved ones."""
    survey = Survey.objects.get(workspace=workspace, name="Product reviews", kind="review")
    reviews = Review.objects.filter(workspace=workspace, survey=survey)
    statuses = {s: reviews.filter(status=s).count() for s in ("approved", "pending", "rejected")}
    assert statuses["approved"] > 10 and statuses["pending"] > 0, statuses
    assert statuses["approved"] > statuses["pending"] + statuses["rejected"]
    ratings = list(reviews.values_list("rating", flat=True))
    assert 3.5 < sum(ratings) / len(ratings) < 4.8 and min(ratings) <= 2
    assert reviews.exclude(item_id="").count() == len(ratings)  # products, from line items
    assert all(r.author for r in reviews[:20])
    body = Client().get(f"/widget/reviews/{workspace.slug}/").json()
    assert body["count"] == statuses["approved"] and body["reviews"]


def _catalogue_has_shapes(workspace):
    """A coffee catalogue; every purchase names its products at prices that add up to
    its revenue; what is bought together follows how people brew; a buyer gets
    recommendations of products they did not buy; a live journey shows product blocks."""
    products = {p.product_id: p for p in Product.objects.filter(workspace=workspace)}
    assert len(products) >= 40
    categories = {c for p in products.values() for c in p.categories}
    assert {"beans", "single-origin", "blend", "equipment", "grinder", "subscriptions"} <= (
        categories
    )
    assert 3 <= sum(not p.in_stock for p in products.values()) <= 8
    assert all(p.currency == workspace.currency and p.image_url for p in products.values())
    purchases = Event.objects.filter(workspace=workspace, name="purchase")
    bought: dict[int, set[str]] = {}
    for event in purchases:
        items = event.properties["items"]
        assert items and all(i["product_id"] in products for i in items), items
        paid = sum(Decimal(str(i["price"])) * i["quantity"] for i in items)
        assert paid == event.revenue, (items, event.revenue)
        bought.setdefault(event.contact_id, set()).update(i["product_id"] for i in items)
    # Abandoned carts name what was in them, worth the cart's value (a Cart block).
    for event in Event.objects.filter(workspace=workspace, name="cart_abandoned"):
        items = event.properties["items"]
        assert all(i["product_id"] in products for i in items), items
        value = sum(Decimal(str(i["price"])) * i["quantity"] for i in items)
        assert value == Decimal(event.properties["cart_value"]), (items, event.properties)
    # An espresso grinder goes with espresso beans, never with V60 filters.
    pairs = ProductPair.objects.filter(workspace=workspace)
    grinder = pairs.filter(product__product_id="espresso-grinder")
    others = set(grinder.values_list("other__product_id", flat=True))
    assert others and "v60-filters" not in others and "morning-light-blend" not in others
    assert any("espresso" in products[o].categories for o in others)
    dripper = pairs.filter(product__product_id="v60-dripper")
    assert "espresso-grinder" not in set(dripper.values_list("other__product_id", flat=True))
    buyer = Contact.objects.get(pk=max(bought, key=lambda c: (len(bought[c]), -c)))
    recs = recommendations_for_contact(contact=buyer, n=4)
    assert len(recs) == 4
    assert all(r.product.in_stock and r.product.active for r in recs)
    assert not {r.product.product_id for r in recs} & {
        pid for pid in bought[buyer.pk] if not products[pid].attributes.get("repurchase_days")
    }
    step = JourneyStep.objects.get(
        journey__workspace=workspace, journey__name="Post-purchase recommendations", key="recs"
    )
    template = Template.objects.get(pk=step.config["template_id"])
    kinds = {b["type"] for b in template.document["sections"][0]["columns"][0]["blocks"]}
    assert {"product", "recommendations"} <= kinds and step.journey.status == "live"
    # The email shows the featured bag and the buyer's picks, linked to the shop.
    shown = template_preview(template=template, contact=buyer).html
    assert products["eth-yirgacheffe"].title in shown
    assert all(r.product.title in shown for r in recs)


def _browsing_has_shapes(workspace):
    """Views before purchases, so co-viewed lists exist; the cart email shows the
    cart's items; a live browse-abandonment journey shows what they looked at."""
    views = Event.objects.filter(workspace=workspace, name="product_viewed")
    assert views.count() > Event.objects.filter(workspace=workspace, name="purchase").count()
    grinder = Product.objects.get(workspace=workspace, product_id="espresso-grinder")
    assert similar_products(product=grinder, n=4, kind="co_viewed")
    cart_email = Template.objects.get(workspace=workspace, name="Cart reminder")
    blocks = cart_email.document["sections"][0]["columns"][0]["blocks"]
    assert cart_email.editor == "blocks" and {"type": "cart", "show": "items"} in blocks
    cart = Event.objects.filter(workspace=workspace, name="cart_abandoned").latest("id")
    shown = template_preview(template=cart_email, contact=cart.contact).html
    first = Product.objects.get(
        workspace=workspace, product_id=cart.properties["items"][0]["product_id"]
    )
    assert first.title in shown
    step = JourneyStep.objects.get(
        journey__workspace=workspace, journey__name="Browse abandonment", key="viewed"
    )
    assert step.journey.status == "live"
    assert step.journey.trigger == {"kind": "browse_abandoned", "hours": 4}
    browse_email = Template.objects.get(pk=step.config["template_id"])
    assert "recs_viewed_3" in browse_email.body


def test_seed_demo_is_believable_deterministic_and_idempotent():
    out = io.StringIO()
    call_command(
        "seed_demo", "--contacts", "300", "--seed", "3", "--today", "2026-06-30", stdout=out
    )
    workspace = Workspace.objects.get(slug="demo")
    contacts = Contact.objects.filter(workspace=workspace)
    assert contacts.count() == 300
    names = {e.name for e in Event.objects.filter(workspace=workspace)}
    assert {"page_view", "signed_up", "purchase", "cart_abandoned", "trial_started"} <= names
    purchases = Event.objects.filter(workspace=workspace, name="purchase")
    assert purchases.filter(revenue__isnull=True).count() == 0
    first_rows = list(contacts.order_by("pk").values_list("email", "time_zone", "attributes")[:20])
    total = Event.objects.filter(workspace=workspace).count()
    assert all(c.attributes.get("signup_source") for c in contacts[:50])
    # A sent A/B broadcast whose report has a winner, and segments with members.
    autumn = Broadcast.objects.get(workspace=workspace, name="Autumn roast launch")
    assert autumn.status == "sent" and autumn.winner_variant is not None
    assert autumn.messages.filter(sent_at__isnull=True).count() == 0
    assert Segment.objects.filter(workspace=workspace).count() == 3
    # A live journey asks the delivery CSAT a week after the first purchase.
    ask = JourneyStep.objects.get(
        journey__workspace=workspace, journey__name="Delivery survey", key="ask"
    )
    assert ask.kind == "send_survey" and ask.journey.status == "live"
    assert Survey.objects.get(pk=ask.config["survey_id"]).name == "Delivery satisfaction"
    _survey_report_has_shapes(workspace, ask.journey_id)
    _catalogue_has_shapes(workspace)
    _browsing_has_shapes(workspace)
    _reviews_have_shapes(workspace)
    _answer_sums_follow_the_answers(workspace)
    # The stages the demo's replay left are what the engine says now: the first
    # sweep (beat's, when `make run` starts) moves nobody.
    in_stages = set(
        ContactStage.objects.filter(workspace=workspace).values_list("stage__key", flat=True)
    )
    assert {"at_risk", "lapsed"} <= in_stages  # a demo of June, seen from today
    assert sweep_now(workspace=workspace, now=timezone.now()) == 0
    call_command("seed_demo", stdout=out)
    assert "exists" in out.getvalue()
    assert Contact.objects.filter(workspace=workspace).count() == 300
    call_command(
        "seed_demo",
        "--contacts",
        "300",
        "--seed",
        "3",
        "--today",
        "2026-06-30",
        "--reset",
        stdout=out,
    )
    workspace = Workspace.objects.get(slug="demo")
    again = Contact.objects.filter(workspace=workspace).order_by("pk")
    assert list(again.values_list("email", "time_zone", "attributes")[:20]) == first_rows
    assert Event.objects.filter(workspace=workspace).count() == total


def test_seed_demo_puts_nothing_after_now():
    call_command("seed_demo", "--contacts", "120", "--seed", "5", stdout=io.StringIO())
    workspace = Workspace.objects.get(slug="demo")
    now = timezone.now()
    late = {}
    for model in apps.get_models():
        names = {f.name for f in model._meta.concrete_fields}
        if "workspace" not in names:
            continue
        for field in model._meta.concrete_fields:
            if field.name in HAPPENED and isinstance(field, models.DateTimeField):
                rows = model._default_manager.filter(workspace=workspace)
                count = rows.filter(**{f"{field.name}__gt": now}).count()
                if count:
                    late[f"{model._meta.label}.{field.name}"] = count
    assert not late, late


def test_seed_demo_runs_the_loyalty_programme_with_a_year_of_history():
    call_command("seed_demo", "--contacts", "120", "--seed", "5", stdout=io.StringIO())
    ws = Workspace.objects.get(slug="demo")
    assert Programme.objects.get(workspace=ws).enabled
    earned = LedgerEntry.objects.filter(workspace=ws, kind="earn")
    from_purchases = earned.filter(event_id__isnull=False)
    assert (
        from_purchases.count()
        == Event.objects.filter(workspace=ws, name="purchase", revenue__gt=0).count()
    )
    assert Redemption.objects.filter(workspace=ws).count() >= 3
    assert TierChange.objects.filter(workspace=ws).exists()
    today = local_today(ws)
    year = Period(today - dt.timedelta(days=400), today + dt.timedelta(days=1))
    report = loyalty_report(workspace=ws, period=year, granularity="month")
    balances = sum(b.balance for b in PointsBalance.objects.filter(workspace=ws))
    assert report["now"]["outstanding_points"] == balances > 0
    assert report["totals"]["issued"] == sum(e.points for e in earned)
    assert report["totals"]["redemptions"] == Redemption.objects.filter(workspace=ws).count()


def test_seed_demo_runs_the_referral_programme_with_paid_and_held_friends():
    call_command("seed_demo", "--contacts", "600", "--seed", "5", stdout=io.StringIO())
    ws = Workspace.objects.get(slug="demo")
    referrals = Referral.objects.filter(workspace=ws)
    statuses = set(referrals.values_list("status", flat=True))
    assert {"paid", "pending"} <= statuses
    # A paid referral paid both sides once, in the ledger, after its hold.
    for referral in referrals.filter(status="paid"):
        rewards = LedgerEntry.objects.filter(workspace=ws, source_id=f"referral:{referral.pk}")
        assert sorted(rewards.values_list("contact_id", flat=True)) == sorted(
            [referral.referrer_id, referral.referred_id]
        )
        converted_at = referral.converted_at
        assert converted_at is not None
        assert all(e.occurred_at >= converted_at for e in rewards)
    # Every balance is still the sum of its entries.
    for balance in PointsBalance.objects.filter(workspace=ws):
        entries = LedgerEntry.objects.filter(workspace=ws, contact_id=balance.contact_id)
        assert balance.balance == sum(e.points for e in entries)
