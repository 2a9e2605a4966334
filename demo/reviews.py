"""The demo's review request: "Product reviews", asked by email a week after a sample
of the purchases of the last four months, about the products each one contained (the
catalogue's line items, demo/catalogue.py). About two in five answer: stars per
product (grinders and single origins loved, the odd stale bag or late parcel), a
short text most of the time, the overall answer the rounded mean. Reviews older than
ten days are moderated — most approved, a few rejected (a rant, an off-topic coupon
request) — and the latest wait as pending, so the Reviews page, its tabs, the widget
preview and the review request's report all show something real.

Called by `seed_demo` after the catalogue, then the survey rollups are rebuilt."""

from __future__ import annotations

import datetime as dt
import json
import random
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

from analytics.rollups import answer_sums_rebuild
from analytics.rollups.surveys import survey_rollups_rebuild
from catalog.models import Product
from contacts.models import Contact
from demo.surveys import _stage_at, _stays
from messaging.models import Message, MessageStatus
from surveys import scales
from surveys.models import Review, ReviewRequest, Survey, SurveyResponse
from surveys.services import survey_create
from surveys.services.sending import ask_template
from workspaces.models import Workspace
from workspaces.services import Actor

ACTOR = Actor(system="seed_demo")
NAME = "Product reviews"
ASKED_SHARE = 0.3  # of the purchases in the window
ANSWER_SHARE = 0.4
# Per rating: what customers write (filled with the product's name).
TEXTS = {
    5: [
        "The {name} is excellent — I have reordered twice already.",
        "Best purchase this year. The {name} is exactly as described.",
        "Fresh, fragrant and fast delivery. Love the {name}.",
        "Could not be happier with the {name}.",
        "",
    ],
    4: [
        "Very good {name}; the bag could be resealable.",
        "Really like the {name}, a touch pricey.",
        "Solid {name}. Took a few days longer to arrive than promised.",
        "",
    ],
    3: [
        "The {name} is fine, nothing special.",
        "Okay {name}, I expected more flavour.",
    ],
    2: [
        "My {name} arrived a week after the roast date said it would.",
        "The {name} was not what I expected from the photos.",
    ],
    1: [
        "The {name} arrived stale and the support took days to answer.",
        "Broken on arrival. Replaced quickly, but still disappointed.",
    ],
}
REJECTED_TEXTS = [
    "Give me a 50% coupon or I tell everyone!!!",
    "Visit my site for cheap beans www.example.com",
]
# Some products are loved more than others: a nudge to their stars.
FAVOURITE_WORDS = ("grinder", "ethiopia", "kenya", "v60")


def _rating(rng: random.Random, title: str) -> int:
    rating = rng.choices([5, 4, 3, 2, 1], weights=[50, 28, 11, 6, 5])[0]
    if any(word in title.lower() for word in FAVOURITE_WORDS) and rating < 5:
        rating += rng.random() < 0.5
    return int(rating)


def _purchases(workspace: Workspace, since: dt.datetime, until: dt.datetime) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, contact_id, occurred_at, properties FROM contacts_event "
            "WHERE workspace_id = %s AND name = 'purchase' AND occurred_at >= %s "
            "AND occurred_at < %s ORDER BY occurred_at, id",
            [workspace.pk, since, until],
        )
        return cursor.fetchall()


@transaction.atomic
def demo_reviews_seed(*, workspace: Workspace, seed: int, today: dt.date) -> int:
    """Create the review request, its messages, answers and reviews; returns how many
    reviews. Idempotent (a second run finds the survey and adds nothing)."""
    if Survey.objects.filter(workspace=workspace, name=NAME).exists():
        return 0
    rng = random.Random(f"{seed}:reviews")
    survey = survey_create(
        workspace=workspace,
        data={
            "name": NAME,
            "kind": "review",
            "question": "How do you like what you bought from Northwind?",
            "thank_you": "Thank you! Your review helps other coffee lovers choose.",
        },
        actor=ACTOR,
    )
    template = ask_template(survey=survey, channel="email", actor=ACTOR)
    noon = dt.datetime.combine(today, dt.time(12), tzinfo=ZoneInfo(workspace.time_zone))
    end = min(timezone.now(), noon)
    titles = dict(Product.objects.filter(workspace=workspace).values_list("product_id", "title"))
    names = dict(Contact.objects.filter(workspace=workspace).values_list("pk", "first_name"))
    stays = _stays(workspace)
    messages: list[Message] = []
    plans: list[tuple[int, dt.datetime, str, list[dict[str, str]]]] = []
    purchases = _purchases(workspace, end - dt.timedelta(days=128), end - dt.timedelta(days=8))
    for event_id, contact_id, occurred_at, props in purchases:
        props = json.loads(props) if isinstance(props, str) else props
        items = [
            {"id": str(item["product_id"]), "name": titles[item["product_id"]]}
            for item in props.get("items", [])
            if item.get("product_id") in titles
        ][:3]
        if not items or rng.random() > ASKED_SHARE:
            continue
        asked_at = occurred_at + dt.timedelta(days=7, hours=rng.uniform(0, 3))
        key = f"demo-review:{event_id}"
        messages.append(
            Message(
                workspace=workspace,
                contact_id=contact_id,
                channel="email",
                template=template,
                idempotency_key=key,
                status=MessageStatus.DELIVERED,
                subject=survey.question,
                created_at=asked_at,
                due_at=asked_at,
                sent_at=asked_at,
                delivered_at=asked_at,
            )
        )
        plans.append((contact_id, asked_at, str(props.get("order_id") or f"NW-{event_id}"), items))
    Message.objects.bulk_create(messages, batch_size=1000)
    asked = list(zip(messages, plans, strict=True))
    ReviewRequest.objects.bulk_create(
        [
            ReviewRequest(
                workspace=workspace,
                survey=survey,
                contact_id=contact_id,
                message_key=message.idempotency_key,
                order_id=order_id,
                items=items,
                created_at=asked_at,
            )
            for message, (contact_id, asked_at, order_id, items) in zip(
                messages, plans, strict=True
            )
        ],
        batch_size=1000,
    )
    answers: list[SurveyResponse] = []
    reviews: list[Review] = []
    for message, (contact_id, asked_at, order_id, items) in asked:
        if rng.random() > ANSWER_SHARE:
            continue
        at = asked_at + dt.timedelta(hours=rng.uniform(0.2, 60))
        if at >= end:
            continue
        send_key = f"m{message.pk}"
        ratings = [_rating(rng, item["name"]) for item in items]
        overall = round(sum(ratings) / len(ratings))
        stage = _stage_at(stays.get(contact_id, []), at)
        answers.append(
            SurveyResponse(
                workspace=workspace,
                survey=survey,
                contact_id=contact_id,
                message_id=message.pk,
                send_key=send_key,
                score=overall,
                category=scales.category(survey.kind, overall),
                channel="email",
                stage=stage,
                stage_name=stage.name if stage else "",
                answered_at=at,
                updated_at=at,
                last_tap_at=at,
                settled_version=1,  # history: nothing to tell journeys now
            )
        )
        for item, rating in zip(items, ratings, strict=True):
            sent = (contact_id, names.get(contact_id, ""), send_key, order_id)
            reviews.append(_review(rng, survey, sent, item, rating, (at, end)))
    SurveyResponse.objects.bulk_create(answers, batch_size=1000)
    Review.objects.bulk_create(reviews, batch_size=1000)
    survey_rollups_rebuild(workspace_id=workspace.pk)
    answer_sums_rebuild(workspace_id=workspace.pk)  # settled history the engine never saw
    return len(reviews)


def _review(
    rng: random.Random,
    survey: Survey,
    sent: tuple[int, str, str, str],
    item: dict[str, str],
    rating: int,
    when: tuple[dt.datetime, dt.datetime],
) -> Review:
    """One product's review: (contact, author, send key, order) of the send, and when
    it was written and the demo's now."""
    contact_id, author, send_key, order_id = sent
    at, end = when
    status, text = "pending", rng.choice(TEXTS[rating]).format(name=item["name"])
    moderated_at = None
    if end - at > dt.timedelta(days=10):
        moderated_at = at + dt.timedelta(days=rng.uniform(0.5, 3))
        roll = rng.random()
        status = "approved" if roll < 0.9 else "rejected" if roll < 0.95 else "pending"
        if status == "rejected":
            text = rng.choice(REJECTED_TEXTS)
        if status == "pending":
            moderated_at = None
    return Review(
        workspace=survey.workspace,
        survey=survey,
        contact_id=contact_id,
        send_key=send_key,
        item_kind="product",
        item_id=item["id"],
        item_name=item["name"],
        order_id=order_id,
        rating=rating,
        text=text,
        author=author,
        status=status,
        moderated_at=moderated_at,
        moderated_by="demo@northwind.example" if moderated_at else "",
        created_at=at,
        updated_at=at,
    )
