"""Messaging for the demo workspace: a welcome email, a win-back email and an SMS
offer, and a few dozen messages sent through the sandbox provider so the outbox has
something to show. Called by `seed_demo` (analytics/management/commands/seed_demo.py)
after the contacts exist; idempotent (templates by name, messages by key)."""

from __future__ import annotations

from campaigns.models import MessagingSettings, Template
from campaigns.services import message_enqueue, template_create
from campaigns.services.dispatch import messages_claim, messages_send
from contacts.models import Contact, SmsStatus
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
            "<p>It has been a while. You were a {{ stage|default:'customer'|lower }} of ours"
            "{% if attributes.favourite_origin %} and loved {{ attributes.favourite_origin }}"
            "{% endif %}.</p>"
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
