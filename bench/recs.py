"""make bench-recs: popularity and bought-together computed and served, at scale.

Builds a workspace of CONTACTS contacts (default 100,000) and PRODUCTS products
(default 5,000, loaded with the batch upsert). Purchases follow a documented
structure: products fall in groups of 20 (a roaster's range: beans, their grinder,
filters); each contact has a favourite group and makes 0 to 3 purchases of 1 to 4
items, each item from the favourite group with probability 0.7, else a product drawn
with popularity falling as 1/rank (Zipf). Then it times:

  train_s          catalog.services.recommendations_compute for the workspace (the
                   nightly worker's job: popularity and pairs replaced)
  serve_p95_ms     GET /api/v1/contacts/{id}/recommendations/'s read
                   (recommendations_for_contact, n=10) for SERVE random contacts
  similar_p95_ms   a product's similar products (n=10) for SERVE random products

Not measured yet (issue 18): hit rate and NDCG of a time split against the popularity
baseline, the personalised kind, 1M contacts / 50k products / 10M interactions.
Runs in its own database (stagecraft_bench_recs). Prints one JSON object as its last
line."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import statistics
import time
from typing import Any

from bench.common import copy_contacts, django_setup, fresh_database, machine, migrate, report

CONTACTS = int(os.environ.get("CONTACTS", "100000"))
PRODUCTS = int(os.environ.get("PRODUCTS", "5000"))
SERVE = int(os.environ.get("SERVE", "1000"))
GROUP = 20
SEED = 18


def log(message: str) -> None:
    print(f"[bench-recs] {message}", flush=True)


def p95(samples: list[float]) -> float:
    return round(statistics.quantiles(samples, n=20)[18], 3)


def _basket(rng: random.Random, favourite: int, popular: list[int]) -> list[int]:
    items = set()
    for _ in range(rng.randint(1, 4)):
        if rng.random() < 0.7:
            items.add(favourite * GROUP + rng.randrange(GROUP))
        else:
            items.add(rng.choice(popular))
    return sorted(items)


def build(workspace_id: int, now: dt.datetime) -> tuple[int, list[int]]:
    """COPY the contacts and their purchase events; (line items, contact ids)."""
    from django.db import connection

    rng = random.Random(SEED)
    # Popularity falling as 1/rank: product k drawn with weight 1/(k+1).
    weights = [1 / (k + 1) for k in range(PRODUCTS)]
    popular = rng.choices(range(PRODUCTS), weights=weights, k=100_000)
    groups = PRODUCTS // GROUP
    items = 0
    with connection.cursor() as cursor:
        first_id, signups = copy_contacts(
            cursor,
            workspace_id=workspace_id,
            count=CONTACTS,
            rng=rng,
            now=now,
            attributes=lambda i: {},
        )
        with cursor.cursor.copy(
            "COPY contacts_event (workspace_id, contact_id, name, properties, revenue, "
            "currency, occurred_at, received_at) FROM STDIN"
        ) as copy:
            for i, signup in enumerate(signups):
                favourite = rng.randrange(groups)
                for _ in range(rng.choice([0, 1, 1, 2, 3])):
                    basket = _basket(rng, favourite, popular)
                    items += len(basket)
                    moment = signup + (now - signup) * rng.random()
                    properties = {"items": [{"product_id": f"P{k}", "quantity": 1} for k in basket]}
                    copy.write_row(
                        (
                            workspace_id,
                            first_id + i,
                            "purchase",
                            json.dumps(properties),
                            None,
                            "",
                            moment,
                            moment,
                        )
                    )
        cursor.execute("VACUUM ANALYZE contacts_event")
        cursor.execute("VACUUM ANALYZE contacts_contact")
    return items, list(range(first_id, first_id + CONTACTS))


def main() -> None:
    url = fresh_database("stagecraft_bench_recs")
    django_setup(url)
    log("migrating the bench database")
    migrate()
    from catalog.models import Product
    from catalog.recommendations import recommendations_for_contact, similar_products
    from catalog.services import products_upsert, recommendations_compute
    from contacts.models import Contact
    from workspaces.services import Actor, workspace_provision

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    workspace, _ = workspace_provision(slug="bench", name="Bench")
    started = time.perf_counter()
    for start in range(0, PRODUCTS, 1000):
        batch: list[dict[str, Any]] = [
            {
                "product_id": f"P{k}",
                "title": f"Product {k}",
                "url": "",
                "image_url": "",
                "price": None,
                "currency": "",
                "categories": [f"group {k // GROUP}"],
                "brand": "",
                "in_stock": k % 10 != 0,
                "quantity": None,
                "attributes": {},
                "active": True,
            }
            for k in range(start, min(start + 1000, PRODUCTS))
        ]
        products_upsert(
            workspace=workspace, items=batch, actor=Actor(system="bench"), source="bench"
        )
    load_s = time.perf_counter() - started
    log(f"{PRODUCTS} products upserted in {load_s:.1f}s")
    started = time.perf_counter()
    interactions, contact_ids = build(workspace.pk, now)
    log(f"{CONTACTS} contacts, {interactions} line items in {time.perf_counter() - started:.1f}s")

    computed = recommendations_compute(workspace=workspace)
    log(f"computed: {computed}")

    rng = random.Random(SEED + 1)
    serve, similar = [], []
    for contact_id in rng.sample(contact_ids, SERVE):
        contact = Contact.objects.get(pk=contact_id)
        began = time.perf_counter()
        recommendations_for_contact(contact=contact, n=10)
        serve.append((time.perf_counter() - began) * 1000)
    products = list(Product.objects.filter(workspace=workspace).order_by("?")[:SERVE])
    for product in products:
        began = time.perf_counter()
        similar_products(product=product, n=10)
        similar.append((time.perf_counter() - began) * 1000)
    report(
        {
            "benchmark": "recs",
            "contacts": CONTACTS,
            "products": PRODUCTS,
            "interactions": interactions,
            "products_upsert_per_s": round(PRODUCTS / load_s),
            "train_s": round(computed.seconds, 2),
            "pairs": computed.pairs,
            "serve_p95_ms": p95(serve),
            "serve_p50_ms": round(statistics.median(serve), 3),
            "similar_p95_ms": p95(similar),
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()
