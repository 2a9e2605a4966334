"""make bench-recs: the recommendation engine trained by its worker and judged offline.

The generator (sizes are env knobs: CONTACTS, PRODUCTS, INTERACTIONS; SEED):
- products fall in categories (PRODUCTS / 250 of them, at least 10), each with a
  popularity weight falling as 1/rank^0.9 over a random order (popularity skew);
  10% are consumables (`attributes.repurchase_days` 30);
- CLUSTERS (50) latent taste clusters, each preferring 3 categories (Dirichlet
  weights); each contact belongs to one and has an activity level (log-normal), which
  sets its share of INTERACTIONS;
- an interaction is at a uniform moment of the last DAYS (180) days; its category is
  one of the contact's cluster's with probability 0.8, else any category by
  popularity; its product is drawn in the category by popularity; 70% are
  `product_viewed`, 30% purchases (a contact's purchases of one day are one `purchase`
  event with line items); a consumable bought is bought again about 30 days later with
  probability 0.6 (and again, 0.36) — repeat purchases.

The time split: everything before the last TEST_DAYS (14) days is written to the
database; the worker's compute runs as of that cutoff (`train_s`: reading the events,
every model, writing every stored list; in a child process, whose own peak RSS,
VmHWM, is `train_peak_rss_mb`: not its ru_maxrss, which starts at this process's
peak, see bench/memory.py). The purchases of the last 14 days are held out: for up to EVAL
contacts with a held-out purchase of something serving may offer (not bought before,
or a consumable), the served list (recommendations_for_contact, n = 10, the real read
with its filters) of each kind is judged: hit_rate_at_10 (a held-out product among the
10) and ndcg_at_10 (binary relevance). serve_p95_ms is that read's p95 for for_you.
Runs in its own database (stagecraft_bench_recs, or RECS_DB; LOAD_ONLY=1 writes it and
stops, REUSE=1 trains and judges again on it); the training's seconds per step are
logged. Prints one JSON object last."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np

from bench.common import (
    base_database_url,
    copy_contacts,
    django_setup,
    fresh_database,
    machine,
    migrate,
    report,
    with_database,
)
from bench.memory import RssSampler, own_peak_rss_mb

CONTACTS = int(os.environ.get("CONTACTS", "200000"))
PRODUCTS = int(os.environ.get("PRODUCTS", "10000"))
INTERACTIONS = int(os.environ.get("INTERACTIONS", "2000000"))
EVAL = int(os.environ.get("EVAL", "2000"))
SEED = int(os.environ.get("SEED", "18"))
# REUSE=1: train and judge again on the database the last run wrote (same sizes, seed).
REUSE = os.environ.get("REUSE") == "1"
# RECS_DB: the bench database's name (one per size lets REUSE keep several).
RECS_DB = os.environ.get("RECS_DB", "stagecraft_bench_recs")
# LOAD_ONLY=1: generate and write the database, then stop (for later REUSE=1 runs).
LOAD_ONLY = os.environ.get("LOAD_ONLY") == "1"
CLUSTERS = 50
DAYS = 180
TEST_DAYS = 14
DAY = 86_400
KINDS = ("for_you", "popular", "trending", "new_arrivals")


def log(message: str) -> None:
    print(f"[bench-recs] {message}", file=sys.stderr, flush=True)


def p95(samples: list[float]) -> float:
    return round(statistics.quantiles(samples, n=20)[18], 3)


def generate(rng: np.random.Generator, end: int) -> dict[str, np.ndarray]:
    """Interactions as arrays (contact index, product index, bought, epoch seconds),
    and the products' categories and consumable flags (see the module's doc)."""
    categories = max(10, PRODUCTS // 250)
    category = np.sort(rng.integers(0, categories, PRODUCTS))  # products by category
    weight = 1 / (rng.permutation(PRODUCTS) + 1) ** 0.9
    consumable = rng.random(PRODUCTS) < 0.1
    cum = np.cumsum(weight)
    cat_start = np.searchsorted(category, np.arange(categories))
    cat_end = np.r_[cat_start[1:], PRODUCTS]
    low = np.where(cat_start > 0, cum[np.maximum(cat_start - 1, 0)], 0.0)
    high = cum[np.maximum(cat_end - 1, 0)]
    cat_weight = np.maximum(high - low, 0)
    prefers = np.array([rng.choice(categories, 3, replace=False) for _ in range(CLUSTERS)])
    prefer_weight = rng.dirichlet(np.ones(3), CLUSTERS)
    cluster = rng.integers(0, CLUSTERS, CONTACTS)
    activity = rng.lognormal(0, 1, CONTACTS)

    who = rng.choice(CONTACTS, INTERACTIONS, p=activity / activity.sum())
    at = end - (rng.random(INTERACTIONS) * DAYS * DAY).astype(np.int64)
    taste = rng.random(INTERACTIONS) < 0.8
    pick = (rng.random(INTERACTIONS)[:, None] > np.cumsum(prefer_weight[cluster[who]], 1)).sum(1)
    cat = np.where(
        taste,
        prefers[cluster[who], np.minimum(pick, 2)],
        rng.choice(categories, INTERACTIONS, p=cat_weight / cat_weight.sum()),
    )
    target = low[cat] + rng.random(INTERACTIONS) * cat_weight[cat]
    product = np.minimum(np.searchsorted(cum, target), cat_end[cat] - 1)
    bought = rng.random(INTERACTIONS) < 0.3
    # Repeat purchases of consumables, about 30 and 60 days on.
    extra_w, extra_p, extra_t = [], [], []
    again = bought & consumable[product]
    for chance, days in ((0.6, 30), (0.36, 60)):
        mask = again & (rng.random(INTERACTIONS) < chance)
        moment = at[mask] + ((days + rng.normal(0, 3, mask.sum())) * DAY).astype(np.int64)
        keep = moment < end
        extra_w.append(who[mask][keep])
        extra_p.append(product[mask][keep])
        extra_t.append(moment[keep])
    return {
        "who": np.concatenate([who, *extra_w]),
        "product": np.concatenate([product, *extra_p]),
        "bought": np.concatenate([bought, np.ones(sum(len(e) for e in extra_w), bool)]),
        "at": np.concatenate([at, *extra_t]),
        "category": category,
        "consumable": consumable,
    }


def write(
    cursor: Any, workspace_id: int, first_id: int, data: dict[str, np.ndarray], cutoff: int
) -> int:
    """COPY the events before the cutoff: views one each, a contact's purchases of one
    day one `purchase` event with line items. Returns the events written."""
    train = data["at"] < cutoff
    who, product, bought, at = (data[k][train] for k in ("who", "product", "bought", "at"))
    stamp = np.datetime_as_string(at.astype("datetime64[s]")).astype(object) + "+00"
    written = 0
    with cursor.cursor.copy(
        "COPY contacts_event (workspace_id, contact_id, name, properties, currency, "
        "occurred_at, received_at) FROM STDIN"
    ) as copy:
        lines = []
        views = np.flatnonzero(~bought)
        for i in views.tolist():
            s = stamp[i]
            body = f'{{"product_id": "P{product[i]}"}}'
            lines.append(f"{workspace_id}\t{first_id + who[i]}\tproduct_viewed\t{body}\t\t{s}\t{s}")
            if len(lines) >= 50_000:
                copy.write("\n".join(lines) + "\n")
                written += len(lines)
                lines = []
        buys = np.flatnonzero(bought)
        key = who[buys].astype(np.int64) * 1000 + at[buys] // DAY % 1000
        order = buys[np.argsort(key, kind="stable")]
        sorted_key = np.sort(key, kind="stable")
        starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
        ends = np.r_[starts[1:], len(order)]
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            rows = order[a:b]
            items = ", ".join(f'{{"product_id": "P{product[r]}", "quantity": 1}}' for r in rows)
            s = stamp[rows[0]]
            body = f'{{"items": [{items}]}}'
            lines.append(f"{workspace_id}\t{first_id + who[rows[0]]}\tpurchase\t{body}\t\t{s}\t{s}")
            if len(lines) >= 50_000:
                copy.write("\n".join(lines) + "\n")
                written += len(lines)
                lines = []
        if lines:
            copy.write("\n".join(lines) + "\n")
            written += len(lines)
    return written


def train(url: str, workspace_id: int, cutoff: str) -> None:
    """The child process: the worker's compute as of the cutoff; prints its seconds,
    its own peak RSS and the largest RSS sampled during each step."""
    django_setup(url)
    from catalog.services import recommendations_compute
    from workspaces.models import Workspace

    workspace = Workspace.objects.get(pk=workspace_id)
    with RssSampler() as sampler:
        began = time.perf_counter()
        computed = recommendations_compute(
            workspace=workspace, now=dt.datetime.fromisoformat(cutoff)
        )
    rss_by_step = {}
    for step, seconds in computed.steps:
        rss_by_step[step] = round(sampler.peak_during(began, began + seconds))
        began += seconds
    print(
        json.dumps(
            {
                "seconds": computed.seconds,
                "contacts": computed.contacts,
                "pairs": computed.pairs,
                "steps": dict(computed.steps),
                "rss_mb_by_step": rss_by_step,
                # VmHWM, not ru_maxrss: that one starts at the bench's own peak, carried
                # over by exec (bench/memory.py).
                "peak_rss_mb": own_peak_rss_mb(),
                "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def judge(ranked: list[int], relevant: set[int]) -> tuple[float, float]:
    gains = [1 / math.log2(rank + 2) for rank, p in enumerate(ranked[:10]) if p in relevant]
    ideal = sum(1 / math.log2(rank + 2) for rank in range(min(len(relevant), 10)))
    return (1.0 if gains else 0.0), sum(gains) / ideal


def load(
    rng: np.random.Generator, end: int, cutoff: int
) -> tuple[Any, int, dict[str, np.ndarray], int]:
    """Generate, and write the products, contacts and events before the cutoff."""
    from django.db import connection

    from catalog.services import products_upsert
    from workspaces.services import Actor, workspace_provision

    workspace, _ = workspace_provision(slug="bench", name="Bench")
    started = time.perf_counter()
    data = generate(rng, end)
    log(f"generated {len(data['who'])} interactions in {time.perf_counter() - started:.1f}s")
    for start in range(0, PRODUCTS, 1000):
        batch: list[dict[str, Any]] = [
            {
                "product_id": f"P{k}",
                "title": f"Product {k}",
                "url": "",
                "image_url": "",
                "price": None,
                "currency": "",
                "categories": [f"c{data['category'][k]}"],
                "brand": "",
                "in_stock": True,
                "quantity": None,
                "attributes": {"repurchase_days": 30} if data["consumable"][k] else {},
                "active": True,
            }
            for k in range(start, min(start + 1000, PRODUCTS))
        ]
        products_upsert(
            workspace=workspace, items=batch, actor=Actor(system="bench"), source="bench"
        )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # Arrivals spread over the year before the cutoff, for new_arrivals.
        cursor.execute(
            "UPDATE catalog_product "
            "SET created_at = to_timestamp(%s) - random() * interval '365 days'",
            [cutoff],
        )
        import random

        first_id, _ = copy_contacts(
            cursor,
            workspace_id=workspace.pk,
            count=CONTACTS,
            rng=random.Random(SEED),
            now=dt.datetime.now(dt.UTC),
            attributes=lambda i: {},
        )
        events = write(cursor, workspace.pk, first_id, data, cutoff)
        cursor.execute("VACUUM ANALYZE contacts_event")
        cursor.execute("VACUUM ANALYZE contacts_contact")
        cursor.execute("VACUUM ANALYZE catalog_product")
    train_count = int((data["at"] < cutoff).sum())
    took = time.perf_counter() - started
    log(f"{CONTACTS} contacts, {events} events ({train_count} interactions) in {took:.1f}s")

    return workspace, first_id, data, train_count


def main() -> None:
    if REUSE:
        url = with_database(base_database_url(), RECS_DB)
        django_setup(url)
    else:
        url = fresh_database(RECS_DB)
        django_setup(url)
        log("migrating the bench database")
        migrate()
    from django.db import connection

    from catalog.models import Product
    from catalog.recommendations import Offer, recommendations_for_contact, similar_products
    from contacts.models import Contact

    rng = np.random.default_rng(SEED)
    if REUSE:
        # The same seed gives the same interactions up to a shift in time: found from
        # the latest event written.
        from workspaces.models import Workspace

        workspace = Workspace.objects.get(slug="bench")
        data = generate(rng, 0)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT extract(epoch FROM max(occurred_at))::int8, "
                "(SELECT min(id) FROM contacts_contact WHERE workspace_id = %s) "
                "FROM contacts_event WHERE workspace_id = %s",
                [workspace.pk, workspace.pk],
            )
            latest, first_id = cursor.fetchone()
        end = latest - int(data["at"][data["at"] < -TEST_DAYS * DAY].max())
        data["at"] += end
        cutoff = end - TEST_DAYS * DAY
        train_count = int((data["at"] < cutoff).sum())
        log(f"reusing the bench database: {train_count} interactions before the cutoff")
    else:
        end = int(time.time())
        cutoff = end - TEST_DAYS * DAY
        workspace, first_id, data, train_count = load(rng, end, cutoff)
        if LOAD_ONLY:
            return

    cutoff_iso = dt.datetime.fromtimestamp(cutoff, dt.UTC).isoformat()
    connection.close()
    # The child's ru_maxrss would start at this figure (bench/memory.py).
    log(f"this process's peak RSS before training: {own_peak_rss_mb():.0f} MB")
    child = subprocess.run(
        [sys.executable, "-m", "bench.recs", "train", url, str(workspace.pk), cutoff_iso],
        check=True,
        capture_output=True,
        text=True,
    )
    trained = json.loads(child.stdout.strip().splitlines()[-1])
    peak_mb = float(trained.pop("peak_rss_mb"))
    log(f"trained: {trained}, peak RSS {peak_mb:.0f} MB")

    # Held out: the last 14 days' purchases each contact could be offered.
    pk_of = dict(Product.objects.filter(workspace=workspace).values_list("product_id", "id"))
    test = (data["at"] >= cutoff) & data["bought"]
    train_buys = (data["at"] < cutoff) & data["bought"]
    before = set(
        zip(data["who"][train_buys].tolist(), data["product"][train_buys].tolist(), strict=True)
    )
    relevant: dict[int, set[int]] = {}
    for w, p in zip(data["who"][test].tolist(), data["product"][test].tolist(), strict=True):
        if (w, p) not in before or data["consumable"][p]:
            relevant.setdefault(w, set()).add(pk_of[f"P{p}"])
    judged = sorted(relevant)
    judged = [judged[i] for i in np.random.default_rng(SEED + 1).permutation(len(judged))[:EVAL]]
    hits = dict.fromkeys(KINDS, 0.0)
    ndcg = dict.fromkeys(KINDS, 0.0)
    serve: list[float] = []
    contacts = Contact.objects.in_bulk([first_id + w for w in judged])
    offer = Offer(in_stock_only=False)
    for w in judged:
        contact = contacts[first_id + w]
        for kind in KINDS:
            began = time.perf_counter()
            found = recommendations_for_contact(contact=contact, n=10, kind=kind, offer=offer)
            if kind == "for_you":
                serve.append((time.perf_counter() - began) * 1000)
            hit, gain = judge([r.product.pk for r in found], relevant[w])
            hits[kind] += hit
            ndcg[kind] += gain
    similar = []
    for product in Product.objects.filter(workspace=workspace).order_by("?")[:500]:
        began = time.perf_counter()
        similar_products(product=product, n=10)
        similar.append((time.perf_counter() - began) * 1000)
    report(
        {
            "benchmark": "recs",
            "contacts": CONTACTS,
            "products": PRODUCTS,
            "interactions": len(data["who"]),
            "train_interactions": train_count,
            "judged_contacts": len(judged),
            "hit_rate_at_10": {k: round(hits[k] / max(len(judged), 1), 4) for k in KINDS},
            "ndcg_at_10": {k: round(ndcg[k] / max(len(judged), 1), 4) for k in KINDS},
            "train_s": round(trained["seconds"], 2),
            "train_peak_rss_mb": round(peak_mb),
            "serve_p95_ms": p95(serve),
            "serve_p50_ms": round(statistics.median(serve), 3),
            "similar_p95_ms": p95(similar),
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "train":
        train(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
