from __future__ import annotations

from typing import Any

from messaging.models import Template
from messaging.services import message_enqueue, template_create
from workspaces.models import Workspace
from workspaces.services import Actor

ACTOR = Actor(system="test")


def email_template(ws: Workspace, **extra: Any) -> Template:
    data: dict[str, Any] = {
        "name": "Welcome",
        "channel": "email",
        "subject": "Hi {{ first_name|default:'there' }}",
        "body": (
            "<html><head><style>p {color: #333}</style></head><body>"
            "<p>Hello {{ first_name }} ({{ stage }})</p>"
            '<p><a href="https://shop.example/offer?x=1">Offer</a></p>'
            '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
        ),
        "from_email": "news@shop.example",
    }
    data.update(extra)
    return template_create(workspace=ws, data=data, actor=ACTOR)


def sms_template(ws: Workspace, **extra: Any) -> Template:
    data: dict[str, Any] = {"name": "Sms", "channel": "sms", "body": "Hi {{ first_name }}!"}
    data.update(extra)
    return template_create(workspace=ws, data=data, actor=ACTOR)


def enqueue(contacts: list[Any], template: Template, prefix: str = "t") -> list[int]:
    return [
        message_enqueue(contact=c, template=template, idempotency_key=f"{prefix}:{c.pk}").message.pk
        for c in contacts
    ]
