"""Browsing in the demo: `product_viewed` events, so the catalogue's `co_viewed`
lists have something to say and the browse-abandonment journey has visits to judge;
the abandoned-cart email shows the cart (a Cart block); a live browse-abandonment
journey whose email shows "the products you looked at".

- Before each purchase and abandoned cart, the contact looked at what it names (each
  product once, minutes to two hours before), and at one more product of the same
  first category that they did not take, a third of the time: what people view
  together follows what they buy together, with some browsing around it.
- Each contact draws from a generator seeded by the demo's seed and their email, so a
  rebuild with the same seed makes the same views (their count is asserted)."""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any

from django.db import connection
from psycopg.types.json import Jsonb

from campaigns.journeys.services import journey_create, journey_schedule
from campaigns.models import Journey
from catalog.models import Product
from messaging.models import Template
from messaging.services import template_create, template_update
from workspaces.models import Workspace
from workspaces.services import Actor

ACTOR = Actor(system="seed_demo")
CART_TEMPLATE = "Cart reminder"
BROWSE_TEMPLATE = "Still thinking it over?"
BROWSE_JOURNEY = "Browse abandonment"
OTHER_VIEW_CHANCE = 1 / 3


def demo_product_views(*, workspace: Workspace, seed: int) -> int:
    """Views before each purchase and abandoned cart with items; returns how many."""
    by_category: dict[str, list[str]] = {}
    first_category: dict[str, str] = {}
    for product_id, categories in Product.objects.filter(workspace=workspace).values_list(
        "product_id", "categories"
    ):
        if categories:
            by_category.setdefault(categories[0], []).append(product_id)
            first_category[product_id] = categories[0]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.contact_id, c.email, e.properties, e.occurred_at FROM contacts_event e "
            "JOIN contacts_contact c ON c.id = e.contact_id AND c.workspace_id = e.workspace_id "
            "WHERE e.workspace_id = %s AND e.name IN ('purchase', 'cart_abandoned') "
            "ORDER BY e.contact_id, e.occurred_at, e.id",
            [workspace.pk],
        )
        rows = cursor.fetchall()
    contacts: list[int] = []
    properties: list[Jsonb] = []
    times: list[dt.datetime] = []
    rng: random.Random | None = None
    current = None
    for contact_id, email, props, at in rows:
        if contact_id != current:
            # By the email, not the id: a rebuild's ids differ, its emails do not.
            current, rng = contact_id, random.Random(f"{seed}:{email}:views")
        assert rng is not None
        props = json.loads(props) if isinstance(props, str) else props
        skus = [i["product_id"] for i in props.get("items") or [] if isinstance(i, dict)]
        viewed = list(dict.fromkeys(skus))
        if viewed and rng.random() < OTHER_VIEW_CHANCE:
            category = first_category.get(viewed[0], "")
            near = [s for s in by_category.get(category, []) if s not in viewed]
            if near:
                viewed.append(rng.choice(near))
        for sku in viewed:
            contacts.append(contact_id)
            properties.append(Jsonb({"product_id": sku}))
            times.append(at - dt.timedelta(minutes=rng.randint(5, 120)))
    with connection.cursor() as cursor:
        for start in range(0, len(contacts), 5000):
            cursor.execute(
                "INSERT INTO contacts_event (workspace_id, contact_id, name, properties, "
                "currency, occurred_at, received_at) "
                "SELECT %s, u.contact_id, 'product_viewed', u.properties, '', u.at, u.at "
                "FROM unnest(%s::bigint[], %s::jsonb[], %s::timestamptz[]) "
                "AS u(contact_id, properties, at)",
                [
                    workspace.pk,
                    contacts[start : start + 5000],
                    properties[start : start + 5000],
                    times[start : start + 5000],
                ],
            )
    return len(contacts)


def _document(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"sections": [{"columns": [{"blocks": list(blocks)}]}]}


def demo_cart_email(*, workspace: Workspace) -> None:
    """The abandoned-cart journey's email, as blocks with the cart's items."""
    template = Template.objects.filter(workspace=workspace, name=CART_TEMPLATE).first()
    if template is None or template.editor == "blocks":
        return
    document = _document(
        {"type": "heading", "text": "Your beans are waiting, {{first_name|there}}", "level": 1},
        {"type": "text", "text": "Here is what you left in your cart:"},
        {"type": "cart", "show": "items"},
        {"type": "button", "label": "Back to your cart", "url": "https://northwind.example/cart"},
    )
    template_update(template=template, data={"editor": "blocks", "document": document}, actor=ACTOR)


def demo_browse_journey(*, workspace: Workspace) -> bool:
    """A live journey: four hours after a visit without a cart or an order, an email
    with the products they looked at. Idempotent (by name); True when created."""
    if Journey.objects.filter(workspace=workspace, name=BROWSE_JOURNEY).exists():
        return False
    template = Template.objects.filter(workspace=workspace, name=BROWSE_TEMPLATE).first()
    if template is None:
        template = template_create(
            workspace=workspace,
            data={
                "name": BROWSE_TEMPLATE,
                "channel": "email",
                "subject": "Still thinking it over, {{ first_name|default:'friend' }}?",
                "from_name": "Northwind Coffee",
                "from_email": "hello@northwind.example",
                "editor": "blocks",
                "document": _document(
                    {"type": "heading", "text": "Still thinking it over?", "level": 1},
                    {"type": "text", "text": "The coffee you were looking at:"},
                    {"type": "recommendations", "recs": "viewed:3"},
                    {"type": "heading", "text": "Others loved", "level": 2},
                    {"type": "recommendations", "recs": "for_you:4"},
                ),
            },
            actor=ACTOR,
        )
    journey = journey_create(
        workspace=workspace,
        data={
            "name": BROWSE_JOURNEY,
            "description": "Four hours after a visit that ended without a cart or an "
            "order: the products they looked at.",
            "trigger": {"kind": "browse_abandoned", "hours": 4},
            "reentry": "cooldown",
            "reentry_days": 14,
            "goal": {"event": {"name": "purchase"}},
            "goal_days": 7,
            "steps": [
                {"key": "viewed", "kind": "send_email", "config": {"template_id": template.pk}}
            ],
        },
        actor=ACTOR,
    )
    journey_schedule(journey=journey, actor=ACTOR)
    return True
