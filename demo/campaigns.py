"""Messaging for the demo workspace: a welcome email, a win-back email and an SMS
offer, and a few dozen messages sent through the sandbox provider so the outbox has
something to show. Called by `seed_demo` (demo/management/commands/seed_demo.py)
after the contacts exist; idempotent (templates by name, messages by key)."""

from __future__ import annotations

from typing import Any

from campaigns.journeys.engine import journeys_advance
from campaigns.journeys.services import journey_create, journey_schedule
from campaigns.journeys.triggers import enrol_api
from campaigns.models import Journey
from contacts.models import Contact, SmsStatus
from lifecycle.models import ContactStage, Stage
from messaging.models import MessagingSettings, Template
from messaging.services import message_enqueue, template_create
from messaging.services.claims import messages_claim
from messaging.services.dispatch import messages_send
from workspaces.models import Workspace
from workspaces.services import Actor

DEMO_TEMPLATES: list[dict[str, str]] = [
    {
        "name": "Welcome",
        "channel": "email",
        "subject": "Welcome to {{ workspace.name }}, {{ first_name|default:'friend' }}",
        "preheader": "Your first bag ships free this week.",
        "from_name": "Northwind Coffee",
        "from_email": "hello@northwind.example",
        "body": (
            "<html><head><style>body{font-family:Georgia,serif;color:#2b2118}"
            "h1{color:#6b3e26}.cta{background:#6b3e26;color:#fff;padding:10px 16px;"
            "text-decoration:none;border-radius:4px}</style></head><body>"
            "<h1>Hi {{ first_name|default:'there' }}!</h1>"
            "<p>Thanks for joining {{ workspace.name }}. Our roasters pick a new single "
            "origin every week.</p>"
            '<p><a class="cta" href="https://northwind.example/shop">Choose your first bag</a></p>'
            '<p style="font-size:12px">Not for you? <a href="{{ preferences_url }}">'
            "Email preferences</a></p></body></html>"
        ),
    },
    {
        "name": "We miss you",
        "channel": "email",
        "subject": "{{ first_name|default:'Hey' }}, your grinder misses us",
        "from_name": "Northwind Coffee",
        "from_email": "hello@northwind.example",
        "body": (
            "<p>It has been a while since your last order"
            "{% if attributes.favourite_origin %}, and we have a fresh roast of "
            "{{ attributes.favourite_origin }} waiting{% endif %}.</p>"
            '<p><a href="https://northwind.example/comeback">15% off your next order</a></p>'
            '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
        ),
    },
    {
        "name": "Flash sale SMS",
        "channel": "sms",
        "body": (
            "Northwind: {{ first_name|default:'Hi' }}, 24h flash sale, 20% off all "
            "espresso blends. northwind.example/flash Reply STOP to opt out"
        ),
    },
]


def demo_messaging_seed(*, workspace: Workspace, messages: int = 40) -> int:
    """Create the demo templates and send `messages` of each channel through the
    sandbox; returns how many messages were sent."""
    MessagingSettings.objects.get_or_create(
        workspace=workspace,
        defaults={
            "from_name": "Northwind Coffee",
            "from_email": "hello@northwind.example",
            "sms_help_text": "Northwind Coffee: help@northwind.example. Reply STOP to opt out.",
        },
    )
    actor = Actor(system="demo")
    templates = []
    for data in DEMO_TEMPLATES:
        existing = Template.objects.filter(workspace=workspace, name=data["name"]).first()
        templates.append(
            existing or template_create(workspace=workspace, data=dict(data), actor=actor)
        )
    contacts = Contact.objects.filter(workspace=workspace).order_by("id")
    email_contacts = list(contacts.exclude(email=None)[:messages])
    sms_contacts = list(contacts.filter(sms_status=SmsStatus.SUBSCRIBED)[: messages // 2])
    for contact in email_contacts:
        template = templates[0] if contact.pk % 3 else templates[1]
        message_enqueue(
            contact=contact, template=template, idempotency_key=f"demo:{template.pk}:{contact.pk}"
        )
    for contact in sms_contacts:
        message_enqueue(
            contact=contact,
            template=templates[2],
            idempotency_key=f"demo:{templates[2].pk}:{contact.pk}",
        )
    sent = 0
    while claims := messages_claim(limit=500):
        sent += messages_send(claims=claims)["sent"]
    return sent


JOURNEY_TEMPLATES: list[dict[str, str]] = [
    {
        "name": "Welcome 2: how we roast",
        "channel": "email",
        "subject": "How we roast, {{ first_name|default:'friend' }}",
        "from_email": "hello@northwind.example",
        "body": "<p>Small batches, every Tuesday.</p>"
        '<p><a href="https://northwind.example/roasting">See the roastery</a></p>'
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
    },
    {
        "name": "Cart reminder",
        "channel": "email",
        "subject": "You left something in your cart",
        "from_email": "hello@northwind.example",
        "body": '<p>Your beans are waiting.</p><p><a href="https://northwind.example/cart">'
        'Back to your cart</a></p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
    },
    {
        "name": "Cart reminder SMS",
        "channel": "sms",
        "body": "Northwind: your cart is still there, free shipping today: "
        "northwind.example/cart Reply STOP to opt out",
    },
    {
        "name": "Brewing guide",
        "channel": "email",
        "subject": "Getting the most from your beans",
        "from_email": "hello@northwind.example",
        "body": '<p>Grind, ratio, water.</p><p><a href="https://northwind.example/guide">'
        'The guide</a></p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
    },
    {
        "name": "Review request",
        "channel": "email",
        "subject": "How was your coffee?",
        "from_email": "hello@northwind.example",
        "body": '<p>Tell us in one click.</p><p><a href="https://northwind.example/review">'
        'Leave a review</a></p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
    },
    {
        "name": "Win-back reminder",
        "channel": "email",
        "subject": "{{ first_name|default:'Hi' }}, time for a fresh bag?",
        "from_email": "hello@northwind.example",
        "body": "<p>Your last bag is probably running low. Our roasters have three new "
        "single origins this month.</p>"
        '<p><a href="https://northwind.example/shop">See what is new</a></p>'
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
    },
    {
        "name": "Refer a friend",
        "channel": "email",
        "subject": "Give a bag, get a bag",
        "from_email": "hello@northwind.example",
        "body": "<p>Your friends get 20% off, you get a free bag.</p>"
        '<p><a href="https://northwind.example/refer">Invite a friend</a></p>'
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
    },
]


def _step(key: str, kind: str, **config: Any) -> dict[str, Any]:
    return {"key": key, "kind": kind, "config": config}


def demo_journeys_seed(*, workspace: Workspace, sample: int = 40) -> int:
    """The five default journeys, live: welcome series, abandoned cart (email then
    SMS), post-purchase onboarding and review request, win-back, referral invitation.
    A sample of today's matching contacts is enrolled and run once, so each journey
    has counts to show. Idempotent (journeys by name); returns journeys created."""

    actor = Actor(system="demo")
    for data in DEMO_TEMPLATES + JOURNEY_TEMPLATES:
        if not Template.objects.filter(workspace=workspace, name=data["name"]).exists():
            template_create(workspace=workspace, data=data, actor=actor)
    t = dict(Template.objects.filter(workspace=workspace).values_list("name", "pk"))
    stage = dict(
        Stage.objects.filter(workspace=workspace, archived_at__isnull=True).values_list("key", "pk")
    )
    purchased = {"event": {"name": "purchase"}}
    definitions: list[dict[str, Any]] = [
        {
            "name": "Welcome series",
            "description": "New subscribers: a welcome, then how we roast two days later.",
            "trigger": {"kind": "stage_entered", "stage_id": stage["subscriber"]},
            "goal": purchased,
            "goal_days": 14,
            "holdout_percent": 10,
            "steps": [
                _step("welcome", "send_email", template_id=t["Welcome"], next="two-days"),
                _step("two-days", "wait", duration={"days": 2}, next="morning"),
                _step("morning", "wait_until", time="09:00", next="roasting"),
                _step("roasting", "send_email", template_id=t["Welcome 2: how we roast"]),
            ],
        },
        {
            "name": "Abandoned cart",
            "description": "An email an hour after a cart is left; an SMS the next day "
            "if they have not bought, to those who opted in.",
            "trigger": {"kind": "event", "event": "cart_abandoned"},
            "reentry": "cooldown",
            "reentry_days": 7,
            "goal": purchased,
            "goal_days": 3,
            "steps": [
                _step("hour", "wait", duration={"hours": 1}, next="email"),
                _step("email", "send_email", template_id=t["Cart reminder"], next="bought"),
                _step(
                    "bought",
                    "wait_for",
                    event={"name": "purchase"},
                    timeout={"days": 1},
                    next=None,
                    timeout_next="sms-ok",
                ),
                _step(
                    "sms-ok",
                    "branch",
                    rule={"field": "sms_status", "op": "eq", "value": "subscribed"},
                    yes="sms",
                    no=None,
                ),
                _step("sms", "send_sms", template_id=t["Cart reminder SMS"]),
            ],
        },
        {
            "name": "Post-purchase",
            "description": "First-time buyers: a brewing guide, then a review request a "
            "week later.",
            "trigger": {"kind": "stage_entered", "stage_id": stage["customer"]},
            "steps": [
                _step("guide", "send_email", template_id=t["Brewing guide"], next="week"),
                _step("week", "wait", duration={"days": 7}, next="review"),
                _step("review", "send_email", template_id=t["Review request"], next="tag"),
                _step("tag", "update_attribute", attribute="review_requested", value=True),
            ],
        },
        {
            "name": "Win-back",
            "description": "At risk: an offer, tested against a plain reminder; lapsed "
            "after two weeks without an order: the offer again.",
            "trigger": {"kind": "stage_entered", "stage_id": stage["at_risk"]},
            "exit_on_stage_left": True,
            "goal": purchased,
            "goal_days": 30,
            "reentry": "cooldown",
            "reentry_days": 90,
            "steps": [
                _step(
                    "test",
                    "split",
                    paths=[
                        {"label": "offer", "weight": 50, "next": "offer"},
                        {"label": "reminder", "weight": 50, "next": "reminder"},
                    ],
                ),
                _step("offer", "send_email", template_id=t["We miss you"], next="wait"),
                _step("reminder", "send_email", template_id=t["Win-back reminder"], next="wait"),
                _step("wait", "wait", duration={"days": 14}, next="again"),
                _step("again", "send_email", template_id=t["We miss you"]),
            ],
        },
        {
            "name": "Referral invitation",
            "description": "Loyal customers are invited to refer a friend.",
            "trigger": {"kind": "stage_entered", "stage_id": stage["loyal"]},
            "steps": [
                _step("morning", "wait_until", time="10:00", days_of_week=[1, 2, 3], next="ask"),
                _step("ask", "send_email", template_id=t["Refer a friend"]),
            ],
        },
    ]
    created = 0
    sample_of = {
        "Welcome series": stage["subscriber"],
        "Post-purchase": stage["customer"],
        "Win-back": stage["at_risk"],
        "Referral invitation": stage["loyal"],
    }
    for data in definitions:
        if Journey.objects.filter(workspace=workspace, name=data["name"]).exists():
            continue
        journey = journey_create(workspace=workspace, data=data, actor=actor)
        journey = journey_schedule(journey=journey, actor=actor)
        created += 1
        stage_id = sample_of.get(data["name"])
        if stage_id is not None:
            ids = list(
                ContactStage.objects.filter(workspace=workspace, stage_id=stage_id)
                .order_by("contact_id")
                .values_list("contact_id", flat=True)[:sample]
            )
            enrol_api(journey, ids, "demo")
    while journeys_advance():
        pass
    return created
