"""The demo shop's product catalogue (issue 18): beans, equipment and subscriptions,
line items on the demo's purchases that name them, stored recommendations, and a
journey whose email shows a product and "you might also like" recommendations.

Called once by `seed_demo` after the contacts and their events exist. The purchases
(demo/contacts.py) keep their revenue: each purchase was drawn as a few price "slots"
(the old seven products in demo/people.py), and here each slot becomes a basket of
this catalogue worth the same, chosen by the contact's way of brewing. So a
pour-over drinker buys a V60 with filters and light roasts, an espresso drinker an
espresso grinder and dark blends: the co-purchase structure the recommendations learn
from. Line prices carry the purchase's discount, so they sum to its revenue."""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from campaigns.journeys.engine import journeys_advance
from campaigns.journeys.services import journey_create, journey_schedule
from campaigns.journeys.triggers import enrol_api
from campaigns.models import Journey
from catalog.models import Product
from catalog.services.products import products_upsert
from catalog.services.recommendations import recommendations_compute
from catalog.validation import clean_product
from demo.browse import demo_browse_journey, demo_cart_email, demo_product_views
from demo.people import PRODUCTS as SLOTS
from messaging.models import Template
from messaging.services import template_create
from workspaces.models import Workspace
from workspaces.services import Actor

ACTOR = Actor(system="demo")
IMAGES = {"beans", "filters", "grinder", "mug"}  # static/catalog/demo/<name>.svg

# One product a line: product_id | title | categories | price (workspace currency) |
# image (static/catalog/demo/<image>.svg) | quantity in stock ("-": not counted) | days
# after which a buyer may be offered it again (a consumable; 0: never).
_TABLE = """
eth-yirgacheffe | Ethiopia Yirgacheffe | beans single-origin light | 18.50 | beans | 140 | 30
kenya-nyeri-aa | Kenya Nyeri AA | beans single-origin light | 18.50 | beans | 60 | 30
costa-rica-tarrazu | Costa Rica Tarrazú | beans single-origin light | 18.50 | beans | 0 | 30
rwanda-huye | Rwanda Huye Mountain | beans single-origin light | 16.00 | beans | 45 | 30
colombia-huila | Colombia Huila | beans single-origin medium | 16.00 | beans | 210 | 30
guatemala-antigua | Guatemala Antigua | beans single-origin medium | 16.00 | beans | 90 | 30
brazil-cerrado | Brazil Cerrado | beans single-origin medium-dark | 18.50 | beans | 75 | 30
sumatra-mandheling | Sumatra Mandheling | beans single-origin dark | 16.00 | beans | 80 | 30
panama-geisha | Panama Geisha (limited) | beans single-origin light | 38.00 | beans | 0 | 0
house-espresso | House Espresso | beans blend espresso medium-dark | 14.00 | beans | 300 | 30
crema-blend | Crema Espresso Blend | beans blend espresso dark | 14.00 | beans | 120 | 30
espresso-reserve | Espresso Reserve | beans blend espresso medium | 18.50 | beans | 50 | 30
morning-light-blend | Morning Light Blend | beans blend filter light | 14.00 | beans | 150 | 30
french-roast | French Roast | beans blend dark | 14.00 | beans | 110 | 30
decaf-swiss-water | Decaf Swiss Water | beans blend decaf medium | 15.50 | beans | 70 | 30
decaf-espresso | Decaf Espresso | beans blend decaf espresso dark | 15.50 | beans | 40 | 30
holiday-blend | Holiday Blend (seasonal) | beans blend medium | 15.50 | beans | 0 | 0
v60-dripper | Hario V60 Dripper 02 | equipment dripper pour-over | 28.00 | filters | 35 | 0
v60-filters | V60 Paper Filters (100) | equipment filters pour-over | 7.00 | filters | 400 | 60
kalita-wave | Kalita Wave 185 | equipment dripper pour-over | 30.00 | filters | 20 | 0
kalita-filters | Kalita Wave Filters (100) | equipment filters pour-over | 6.00 | filters | 150 | 60
gooseneck-kettle | Gooseneck Kettle | equipment kettle pour-over | 94.00 | grinder | 18 | 0
hand-grinder | Hand Burr Grinder | equipment grinder pour-over | 115.00 | grinder | 12 | 0
burr-grinder | Flat Burr Grinder | equipment grinder filter | 129.00 | grinder | 25 | 0
espresso-grinder | Conical Espresso Grinder | equipment grinder espresso | 129.00 | grinder | 10 | 0
tamper | Calibrated Tamper 58 mm | equipment espresso | 28.00 | grinder | 30 | 0
milk-pitcher | Milk Pitcher 600 ml | equipment espresso | 14.00 | mug | 45 | 0
knock-box | Knock Box | equipment espresso | 22.00 | grinder | 0 | 0
cleaning-tablets | Espresso Cleaning Tablets | equipment espresso | 10.00 | filters | 200 | 90
french-press | French Press 8-cup | equipment immersion | 42.00 | mug | 28 | 0
aeropress | AeroPress | equipment immersion | 35.00 | mug | 40 | 0
aeropress-filters | AeroPress Filters 350 | equipment filters immersion | 7.00 | filters | 160 | 90
brewing-scale | Brewing Scale with Timer | equipment scale | 35.00 | grinder | 22 | 0
travel-grinder | Travel Hand Grinder | equipment grinder | 69.00 | grinder | 0 | 0
cold-brew-bottle | Cold Brew Bottle | equipment immersion | 25.00 | mug | 60 | 0
stoneware-mug | Northwind Stoneware Mug | merchandise mug | 20.00 | mug | 80 | 0
gift-box | Tasting Gift Box | gifts | 55.00 | mug | 30 | 0
sub-single-origin | Subscription: Origin of the Month | subscriptions beans | 18.50 | beans | - | 25
sub-filter | Subscription: Filter Roast | subscriptions beans | 16.00 | beans | - | 25
sub-espresso | Subscription: Espresso Blend | subscriptions beans espresso | 14.00 | beans | - | 25
sub-gift-3m | Gift Subscription, 3 Months | subscriptions gifts | 55.00 | mug | - | 0
"""
Row = tuple[str, str, tuple[str, ...], str, str, int | None, int]


def _parse(table: str) -> tuple[Row, ...]:
    rows = []
    for line in table.strip().splitlines():
        pid, title, cats, price, image, quantity, repurchase = (f.strip() for f in line.split("|"))
        stock = None if quantity == "-" else int(quantity)
        rows.append((pid, title, tuple(cats.split()), price, image, stock, int(repurchase)))
    return tuple(rows)


CATALOGUE = _parse(_TABLE)

# A slot of the old generator (its sku) -> the baskets worth the same price that a
# contact of each brewing style buys instead: (product_id, quantity) lines.
Basket = tuple[tuple[str, int], ...]
STYLES: dict[str, dict[str, tuple[Basket, ...]]] = {
    "pour_over": {
        "ethiopia-yirgacheffe": (
            (("eth-yirgacheffe", 1),),
            (("kenya-nyeri-aa", 1),),
            (("costa-rica-tarrazu", 1),),
        ),
        "colombia-huila": ((("rwanda-huye", 1),), (("colombia-huila", 1),)),
        "house-espresso": ((("morning-light-blend", 1),), (("v60-filters", 2),)),
        "decaf-swiss-water": ((("decaf-swiss-water", 1),),),
        "pour-over-kit": (
            (("v60-dripper", 1), ("v60-filters", 2)),
            (("kalita-wave", 1), ("kalita-filters", 2)),
        ),
        "burr-grinder": (
            (("gooseneck-kettle", 1), ("v60-dripper", 1), ("v60-filters", 1)),
            (("hand-grinder", 1), ("v60-filters", 2)),
            (("burr-grinder", 1),),
        ),
        "gift-box": ((("gift-box", 1),), (("brewing-scale", 1), ("stoneware-mug", 1))),
    },
    "espresso": {
        "ethiopia-yirgacheffe": ((("espresso-reserve", 1),),),
        "colombia-huila": ((("sumatra-mandheling", 1),), (("guatemala-antigua", 1),)),
        "house-espresso": (
            (("house-espresso", 1),),
            (("crema-blend", 1),),
            (("milk-pitcher", 1),),
        ),
        "decaf-swiss-water": ((("decaf-espresso", 1),),),
        "pour-over-kit": (
            (("tamper", 1), ("milk-pitcher", 1)),
            (("knock-box", 1), ("cleaning-tablets", 2)),
        ),
        "burr-grinder": ((("espresso-grinder", 1),),),
        "gift-box": ((("gift-box", 1),), (("sub-gift-3m", 1),)),
    },
    "immersion": {
        "ethiopia-yirgacheffe": ((("brazil-cerrado", 1),),),
        "colombia-huila": (
            (("colombia-huila", 1),),
            (("sumatra-mandheling", 1),),
            (("guatemala-antigua", 1),),
        ),
        "house-espresso": ((("french-roast", 1),), (("aeropress-filters", 2),)),
        "decaf-swiss-water": ((("decaf-swiss-water", 1),),),
        "pour-over-kit": ((("french-press", 1),), (("aeropress", 1), ("aeropress-filters", 1))),
        "burr-grinder": ((("burr-grinder", 1),),),
        "gift-box": ((("gift-box", 1),), (("brewing-scale", 1), ("stoneware-mug", 1))),
    },
}
STYLE_WEIGHTS = {"pour_over": 40, "espresso": 35, "immersion": 25}
# A subscriber's regular bag: the slot it replaces, by style.
SUBSCRIPTIONS = {
    "pour_over": ("ethiopia-yirgacheffe", "sub-single-origin"),
    "espresso": ("house-espresso", "sub-espresso"),
    "immersion": ("colombia-huila", "sub-filter"),
}
SUBSCRIBER_ORDERS = 6  # a contact with this many purchases or more subscribes

TEMPLATE_NAME = "You might also like"
JOURNEY_NAME = "Post-purchase recommendations"


def _sku(name: str) -> str:
    return name.lower().replace(" ", "-")


SLOT_PRICES = {_sku(name): price for name, _, price in SLOTS}


def _image(name: str) -> str:
    return f"{settings.BASE_URL}{settings.STATIC_URL}catalog/demo/{name}.svg"


def demo_catalogue_products(*, workspace: Workspace) -> int:
    """Upsert the demo catalogue through the catalogue's own cleaning and upsert;
    returns how many products it holds."""
    items = []
    for product_id, title, categories, price, image, quantity, repurchase in CATALOGUE:
        assert image in IMAGES
        data: dict[str, Any] = {
            "product_id": product_id,
            "title": title,
            "url": f"https://northwind.example/shop/{product_id}",
            "image_url": _image(image),
            "price": price,
            "categories": list(categories),
            "brand": "Northwind" if "beans" in categories else "",
            "quantity": quantity,
            "attributes": {"repurchase_days": repurchase} if repurchase else {},
        }
        cleaned, errors = clean_product(data, default_currency=workspace.currency)
        assert not errors, (product_id, errors)
        items.append(cleaned)
    results = products_upsert(workspace=workspace, items=items, actor=ACTOR, source="demo")
    assert all(r.status != "error" for r in results)
    return len(results)


def _basket(
    rng: random.Random, style: str, skus: list[str], order: int, subscriber: bool
) -> dict[str, int]:
    lines: dict[str, int] = {}
    slot, subscription = SUBSCRIPTIONS[style]
    for sku in skus:
        if subscriber and order > 1 and sku == slot:
            chosen: Basket = ((subscription, 1),)
        else:
            chosen = rng.choice(STYLES[style][sku])
        for product_id, quantity in chosen:
            lines[product_id] = lines.get(product_id, 0) + quantity
    return lines


def _cart_slots(value: Any) -> list[str]:
    """The slots an abandoned cart of the generator was worth (one, or two alike)."""
    for sku, price in SLOT_PRICES.items():
        for times in (1, 2):
            if str(value) == str(price * times):
                return [sku] * times
    return []


def demo_purchase_items(*, workspace: Workspace, seed: int) -> int:
    """Give each demo purchase (and abandoned cart) line items of the catalogue worth
    its revenue (cart value) (see the module's doc); returns how many events got
    items."""
    prices = {row[0]: Decimal(row[3]) for row in CATALOGUE}
    categories = {row[0]: row[2][0] for row in CATALOGUE}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.id, e.contact_id, e.name, e.properties, e.revenue, c.email "
            "FROM contacts_event e JOIN contacts_contact c ON c.id = e.contact_id "
            "AND c.workspace_id = e.workspace_id "
            "WHERE e.workspace_id = %s AND e.name IN ('purchase', 'cart_abandoned') "
            "ORDER BY e.contact_id, e.occurred_at, e.id",
            [workspace.pk],
        )
        rows = cursor.fetchall()
    by_contact: dict[int, list[Any]] = {}
    for row in rows:
        by_contact.setdefault(row[1], []).append(row)
    ids: list[int] = []
    properties: list[Jsonb] = []
    for events in by_contact.values():
        # Seeded by the email, not the id: a rebuild's ids differ, its emails do not.
        email = events[0][5]
        rng = random.Random(f"{seed}:{email}")
        carts = random.Random(f"{seed}:{email}:cart")  # purchases' draws stay put
        style = rng.choices(list(STYLE_WEIGHTS), weights=list(STYLE_WEIGHTS.values()))[0]
        subscriber = sum(e[2] == "purchase" for e in events) >= SUBSCRIBER_ORDERS
        order = 0
        for pk, _, name, props, revenue, _ in events:
            props = json.loads(props) if isinstance(props, str) else props
            factor = Decimal(1)
            if name == "cart_abandoned":
                lines = _basket(carts, style, _cart_slots(props.get("cart_value")), 0, False)
            else:
                skus = props.get("skus")
                if not isinstance(skus, list) or not all(s in SLOT_PRICES for s in skus):
                    continue  # not a purchase of the demo's generator: left as it is
                order += 1
                listed = sum((SLOT_PRICES[s] for s in skus), Decimal(0))
                # The generator's discount (10% off every line, or none).
                factor = Decimal(1) if revenue == listed else Decimal("0.9")
                lines = _basket(rng, style, skus, order, subscriber)
            if not lines:
                continue
            items = [
                {
                    "product_id": product_id,
                    "quantity": quantity,
                    "price": float((prices[product_id] * factor).quantize(Decimal("0.01"))),
                }
                for product_id, quantity in lines.items()
            ]
            props = {**props, "items": items, "brewing": style}
            if name == "purchase":
                props.update(skus=list(lines), category=categories[next(iter(lines))])
            ids.append(pk)
            properties.append(Jsonb(props))
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 5000):
            cursor.execute(
                "UPDATE contacts_event e SET properties = u.properties "
                "FROM unnest(%s::bigint[], %s::jsonb[]) AS u(id, properties) "
                "WHERE e.workspace_id = %s AND e.id = u.id",
                [ids[start : start + 5000], properties[start : start + 5000], workspace.pk],
            )
    return len(ids)


def demo_recommendations_journey(*, workspace: Workspace, sample: int = 20) -> bool:
    """A live journey: ten days after a purchase, an email with the most bought product
    and four "you might also like" picks (product and recommendations blocks). A
    sample of recent buyers is enrolled. Idempotent (by name); True when created."""
    if Journey.objects.filter(workspace=workspace, name=JOURNEY_NAME).exists():
        return False
    template = Template.objects.filter(workspace=workspace, name=TEMPLATE_NAME).first()
    if template is None:
        featured = Product.objects.get(workspace=workspace, product_id="eth-yirgacheffe")
        document = {
            "sections": [
                {
                    "columns": [
                        {
                            "blocks": [
                                {
                                    "type": "heading",
                                    "text": "How is your coffee, {{first_name|there}}?",
                                    "level": 1,
                                },
                                {"type": "text", "text": "This week's most loved bag:"},
                                {"type": "product", "product": featured.pk},
                                {"type": "heading", "text": "You might also like", "level": 2},
                                {"type": "recommendations", "recs": "for_you:4"},
                            ]
                        }
                    ]
                }
            ]
        }
        template = template_create(
            workspace=workspace,
            data={
                "name": TEMPLATE_NAME,
                "channel": "email",
                "subject": "Picked for you, {{ first_name|default:'friend' }}",
                "from_name": "Northwind Coffee",
                "from_email": "hello@northwind.example",
                "editor": "blocks",
                "document": document,
            },
            actor=ACTOR,
        )
    journey = journey_create(
        workspace=workspace,
        data={
            "name": JOURNEY_NAME,
            "description": "Ten days after a purchase: what goes with it (product and "
            "recommendation blocks).",
            "trigger": {"kind": "event", "event": "purchase"},
            "reentry": "cooldown",
            "reentry_days": 30,
            "steps": [
                {
                    "key": "wait",
                    "kind": "wait",
                    "config": {"duration": {"days": 10}, "next": "recs"},
                },
                {"key": "recs", "kind": "send_email", "config": {"template_id": template.pk}},
            ],
        },
        actor=ACTOR,
    )
    journey = journey_schedule(journey=journey, actor=ACTOR)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT contact_id FROM contacts_event WHERE workspace_id = %s AND name = 'purchase' "
            "GROUP BY contact_id ORDER BY max(occurred_at) DESC, contact_id LIMIT %s",
            [workspace.pk, sample],
        )
        buyers = [row[0] for row in cursor.fetchall()]
    enrol_api(journey, buyers, "demo")
    while journeys_advance():
        pass
    return True


def demo_catalogue_seed(*, workspace: Workspace, seed: int, today: dt.date) -> int:
    """The whole catalogue part of the demo; returns how many purchases got items."""
    with transaction.atomic():
        demo_catalogue_products(workspace=workspace)
        given = demo_purchase_items(workspace=workspace, seed=seed)
        demo_product_views(workspace=workspace, seed=seed)
    # As of the end of the demo's last day (not later than now), so a demo built for
    # an earlier day still has a year of purchases in the window.
    end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    recommendations_compute(workspace=workspace, now=min(end, timezone.now()))
    demo_recommendations_journey(workspace=workspace)
    demo_cart_email(workspace=workspace)
    demo_browse_journey(workspace=workspace)
    return given
