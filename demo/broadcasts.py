"""Demo segments and a sent A/B broadcast, so the segment list, the campaigns list and a
broadcast's report show something real: half the audience in a test split 50/50, variant B clicked
more and won, the rest of the audience got B three days ago.

The broadcast goes through the real services (create, schedule, materialise, judge,
materialise the rest); only what a recipient does (opens, clicks) and the send times
are written directly, as the provider's webhooks and the dispatcher would have."""

from __future__ import annotations

import datetime as dt
import random

from django.utils import timezone

from campaigns.broadcasts.delivery import broadcast_materialise, broadcasts_advance
from campaigns.broadcasts.services import broadcast_create, broadcast_schedule
from campaigns.models import Broadcast
from contacts.services import segment_create
from lifecycle.models import Stage
from messaging.models import Message, MessageStatus
from messaging.services import template_create
from workspaces.models import Workspace
from workspaces.services import Actor

ACTOR = Actor(system="seed_demo")
SEGMENTS = [
    ("Bought in the last 90 days", {"event": "purchase", "within_days": 90}),
    ("Pro plan", {"attr": "plan", "op": "eq", "value": "pro"}),
    ("Never bought", {"not": {"event": "purchase"}}),
]
BODY = (
    "<h1>{headline}</h1><p>Hi {{{{ first_name|default:'there' }}}}, our autumn single origin "
    "is roasted this week: plum, cocoa and a long finish.</p>"
    '<p><a href="https://northwind.example/autumn">Reserve a bag</a></p>'
    '<p style="font-size:12px"><a href="{{{{ unsubscribe_url }}}}">Unsubscribe</a></p>'
)
# Open and click rates a recipient of each variant shows.
BEHAVIOUR = {"A": (0.36, 0.03), "B": (0.47, 0.13)}


def demo_segments_seed(*, workspace: Workspace) -> int:
    for name, rule in SEGMENTS:
        segment_create(workspace=workspace, data={"name": name, "rule": rule}, actor=ACTOR)
    return len(SEGMENTS)


def _behave_by_label(
    messages: list[Message], labels: dict[int, str], rng: random.Random, sent_at: dt.datetime
) -> None:
    for message in messages:
        opens, clicks = BEHAVIOUR[labels.get(message.variant_id or 0, "A")]
        message.status = MessageStatus.DELIVERED
        message.sent_at = message.delivered_at = sent_at
        opened = rng.random() < opens
        message.opened_at = sent_at + dt.timedelta(minutes=rng.randint(2, 600)) if opened else None
        clicked = opened and rng.random() < clicks / opens
        message.clicked_at = message.opened_at if clicked else None
    Message.objects.bulk_update(
        messages, ["status", "sent_at", "delivered_at", "opened_at", "clicked_at"]
    )


def demo_broadcast_seed(*, workspace: Workspace, seed: int = 7) -> Broadcast:
    rng = random.Random(seed)
    # Everyone the engine has placed (every stage): all subscribed contacts.
    stage_ids = list(Stage.objects.filter(workspace=workspace).values_list("pk", flat=True))
    a, b = (
        template_create(
            workspace=workspace,
            data={
                "name": f"Autumn roast ({label})",
                "channel": "email",
                "subject": subject,
                "from_name": "Northwind Coffee",
                "from_email": "hello@northwind.example",
                "body": BODY.format(headline=headline),
            },
            actor=ACTOR,
        )
        for label, subject, headline in (
            ("A", "Our autumn roast is here", "The autumn roast"),
            ("B", "{{ first_name|default:'Hey' }}, a new roast just for you", "Made for autumn"),
        )
    )
    broadcast = broadcast_create(
        workspace=workspace,
        data={
            "name": "Autumn roast launch",
            "channel": "email",
            "template_id": a.pk,
            "variants": [
                {"label": "A", "template_id": a.pk, "weight": 1, "is_default": True},
                {"label": "B", "template_id": b.pk, "weight": 1, "is_default": False},
            ],
            "include_stage_ids": stage_ids,
            "test_pool_percent": 20,
            "winner_wait_hours": 2,
        },
        actor=ACTOR,
    )
    broadcast_schedule(broadcast=broadcast, actor=ACTOR)
    broadcast_materialise(broadcast_id=broadcast.pk)
    sent_at = timezone.now() - dt.timedelta(days=3)
    labels = dict(broadcast.variants.values_list("pk", "label"))
    pool = list(broadcast.messages.all())
    _behave_by_label(pool, labels, rng, sent_at)
    Broadcast.objects.filter(pk=broadcast.pk).update(winner_due_at=timezone.now())
    broadcasts_advance()
    broadcast_materialise(broadcast_id=broadcast.pk)
    rest = list(broadcast.messages.filter(sent_at__isnull=True))
    _behave_by_label(rest, labels, rng, sent_at + dt.timedelta(hours=2))
    # The send happened three days ago: the outbox rows and the decision say so.
    broadcast.messages.filter(pk__in=[m.pk for m in pool]).update(created_at=sent_at)
    broadcast.messages.filter(pk__in=[m.pk for m in rest]).update(
        created_at=sent_at + dt.timedelta(hours=2, minutes=1)
    )
    Broadcast.objects.filter(pk=broadcast.pk).update(
        status="sent",
        scheduled_at=sent_at,
        first_due_at=sent_at,
        winner_due_at=sent_at + dt.timedelta(hours=2),
        finished_at=sent_at + dt.timedelta(hours=3),
        updated_at=sent_at + dt.timedelta(hours=3),
    )
    broadcast.refresh_from_db()
    return broadcast
