"""Serving recommendations from storage (catalog.services.recommendations computes
them): one SQL statement per request over the stored ranked lists, with the filters
(active, stock, category, price band, exclude, already bought) applied here, over a
stored list longer than any n."""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Q

from catalog.models import (
    KIND_CO_VIEWED,
    KIND_FOR_YOU,
    KIND_NEW_ARRIVALS,
    KIND_POPULAR,
    KIND_TRENDING,
    Product,
    ProductPair,
)
from contacts.models import Contact

KIND_BOUGHT_TOGETHER = "bought_together"
CONTACT_KINDS = (KIND_FOR_YOU, KIND_POPULAR, KIND_TRENDING, KIND_NEW_ARRIVALS)
PRODUCT_KINDS = (KIND_BOUGHT_TOGETHER, KIND_CO_VIEWED)


@dataclass(frozen=True)
class Recommendation:
    product: Product
    kind: str  # the kind asked for, or `popular` where the fallback filled in
    score: float  # the kind's score: similarity, lift, buyers, trend, arrival time


@dataclass(frozen=True)
class Offer:
    """Which products may be offered: always active ones; in stock unless
    `in_stock_only` is off; of `category`, priced within [price_min, price_max] when
    given; never the `exclude`d ids."""

    in_stock_only: bool = True
    category: str | None = None
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    exclude: frozenset[str] = frozenset()


def _offer_sql(offer: Offer, params: dict[str, Any]) -> str:
    conditions = ["p.active"]
    if offer.in_stock_only:
        conditions.append("p.in_stock")
    if offer.category:
        conditions.append("p.categories @> ARRAY[%(category)s]::varchar[]")
        params["category"] = offer.category
    if offer.price_min is not None:
        conditions.append("p.price >= %(price_min)s")
        params["price_min"] = offer.price_min
    if offer.price_max is not None:
        conditions.append("p.price <= %(price_max)s")
        params["price_max"] = offer.price_max
    if offer.exclude:
        conditions.append("NOT (p.product_id = ANY(%(exclude)s))")
        params["exclude"] = sorted(offer.exclude)
    return " AND ".join(conditions)


# Everything stored for one contact and kind, in one row of scalar subqueries (each an
# index probe, a plan too simple to cost more than the reads): their own list of the
# kind, the workspace's list of the kind and the popular fallback, what they bought
# (stored, with when), and the product ids of purchase events received since the last
# compute, whenever they happened (through the contact/name/time event index: a
# contact's few purchases; usually none qualify).
_CONTACT_SQL = """
SELECT
  (SELECT ARRAY[items::float8[], scores] FROM catalog_contactrecommendation
   WHERE workspace_id = %(ws)s AND contact_id = %(contact)s AND kind = %(kind)s),
  (SELECT ARRAY[items::float8[], scores] FROM catalog_workspacerecommendation
   WHERE workspace_id = %(ws)s AND kind = %(kind)s),
  (SELECT ARRAY[items::float8[], scores] FROM catalog_workspacerecommendation
   WHERE workspace_id = %(ws)s AND kind = 'popular'),
  (SELECT ARRAY[items, bought_at] FROM catalog_contactpurchases
   WHERE workspace_id = %(ws)s AND contact_id = %(contact)s),
  ARRAY(
    SELECT DISTINCT btrim(item ->> 'product_id') FROM contacts_event e
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE WHEN jsonb_typeof(e.properties -> 'items') = 'array'
             THEN e.properties -> 'items' ELSE '[]'::jsonb END) AS item
    WHERE e.contact_id = %(contact)s AND e.workspace_id = %(ws)s AND e.name = 'purchase'
      AND e.received_at >= coalesce((
          SELECT computed_at FROM catalog_workspacerecommendation
          WHERE workspace_id = %(ws)s AND kind = 'popular'), '-infinity')
      AND jsonb_typeof(item) = 'object')
"""


def _ranked(stored: list[list[float]] | None) -> list[tuple[int, float]]:
    if not stored:
        return []
    return [(int(pid), score) for pid, score in zip(stored[0], stored[1], strict=True)]


def _consumable_again(product: Product, bought_at: int | None, now: float) -> bool:
    """Whether a product the contact bought may be offered again: a consumable
    (`attributes.repurchase_days`, whole days) last bought longer ago than that."""
    days = (
        product.attributes.get("repurchase_days") if isinstance(product.attributes, dict) else None
    )
    if isinstance(days, str) and days.isdigit():
        days = int(days)
    if not isinstance(days, int) or isinstance(days, bool) or days <= 0 or bought_at is None:
        return False
    return bought_at < now - days * 86_400


_PRODUCT_SQL = """
SELECT p.*, u.score AS rec_score, false AS rec_fallback FROM catalog_productrecommendation r,
    unnest(r.items, r.scores) WITH ORDINALITY AS u(pid, score, pos)
JOIN catalog_product p ON p.id = u.pid AND p.workspace_id = %(ws)s
WHERE r.workspace_id = %(ws)s AND r.product_id = %(product)s AND r.kind = %(kind)s
  AND {offer}
ORDER BY u.pos
LIMIT %(n)s
"""


def _run(sql: str, params: dict[str, Any], kind: str) -> list[Recommendation]:
    """One statement: the products with their score and whether the fallback gave them."""
    return [
        Recommendation(
            product,
            KIND_POPULAR if product.rec_fallback else kind,  # type: ignore[attr-defined]
            float(product.rec_score),  # type: ignore[attr-defined]
        )
        for product in Product.objects.raw(sql, params)
    ]


def recommendations_for_contact(
    *, contact: Contact, n: int, kind: str = KIND_FOR_YOU, offer: Offer = Offer()
) -> list[Recommendation]:
    """What to offer one contact, best first: their stored list of `kind` (for_you),
    or the workspace's (popular, trending, new_arrivals), then the most popular to make
    up `n`; never what they bought (unless a consumable bought long enough ago) nor
    what the offer leaves out; fewer than `n` when nothing else is left. Two reads:
    the stored lists, then the candidates' products a batch at a time (usually one)."""
    if kind not in CONTACT_KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    ws = contact.workspace_id
    with connection.cursor() as cursor:
        cursor.execute(_CONTACT_SQL, {"ws": ws, "contact": contact.pk, "kind": kind})
        own, shared, popular, purchases, since = cursor.fetchone()
    candidates: dict[int, tuple[str, float]] = {}
    for source in (own, shared):
        for pid, score in _ranked(source):
            candidates.setdefault(pid, (kind, score))
    for pid, score in _ranked(popular):
        candidates.setdefault(pid, (KIND_POPULAR, score))
    bought_at: dict[int, int] = {}
    if purchases:
        bought_at = {int(p): int(t) for p, t in zip(purchases[0], purchases[1], strict=True)}
    bought_lately = set(since or ())
    now = time.time()
    order = list(candidates)
    found: list[Recommendation] = []
    start = 0
    while start < len(order):
        # A batch that would give n even if a few are filtered out: bought ones don't
        # count (most stay out), the rest are read row by row, so keep it small.
        ids, fresh = [], 0
        while start < len(order) and fresh < n - len(found) + 3:
            ids.append(order[start])
            fresh += order[start] not in bought_at
            start += 1
        products = (
            Product.objects.filter(workspace_id=ws, id__in=ids)
            .filter(_offerable(None, offer))
            .in_bulk()
        )
        for pid in ids:
            product = products.get(pid)
            if product is None or product.product_id in bought_lately:
                continue
            if pid in bought_at and not _consumable_again(product, bought_at[pid], now):
                continue
            label, score = candidates[pid]
            found.append(Recommendation(product, label, float(score)))
            if len(found) == n:
                return found
    return found


def recommendations_for(
    *,
    contact: Contact,
    kind: str = KIND_FOR_YOU,
    n: int = 4,
    in_stock_only: bool = True,
    category: str | None = None,
    price_min: Decimal | None = None,
    price_max: Decimal | None = None,
    exclude: frozenset[str] | set[str] | list[str] = frozenset(),
) -> list[Product]:
    """The products to show a contact in a message (`{% recommendations "for_you" 4 %}`):
    recommendations_for_contact's products, from storage, never computing."""
    offer = Offer(
        in_stock_only=in_stock_only,
        category=category,
        price_min=price_min,
        price_max=price_max,
        exclude=frozenset(exclude),
    )
    found = recommendations_for_contact(contact=contact, n=n, kind=kind, offer=offer)
    return [r.product for r in found]


def _offerable(through: str | None, offer: Offer) -> Q:
    """The offer as conditions on a product, or on the product joined as `through`."""
    through = f"{through}__" if through else ""
    condition = Q(**{f"{through}active": True})
    if offer.in_stock_only:
        condition &= Q(**{f"{through}in_stock": True})
    if offer.category:
        condition &= Q(**{f"{through}categories__contains": [offer.category]})
    if offer.price_min is not None:
        condition &= Q(**{f"{through}price__gte": offer.price_min})
    if offer.price_max is not None:
        condition &= Q(**{f"{through}price__lte": offer.price_max})
    if offer.exclude:
        condition &= ~Q(**{f"{through}product_id__in": sorted(offer.exclude)})
    return condition


def similar_products(
    *, product: Product, n: int, kind: str = KIND_BOUGHT_TOGETHER, offer: Offer = Offer()
) -> list[Recommendation]:
    """Bought together with `product` (best lift first), or co-viewed with it (best
    cosine first)."""
    if kind == KIND_CO_VIEWED:
        params: dict[str, Any] = {
            "ws": product.workspace_id,
            "product": product.pk,
            "kind": kind,
            "n": n,
        }
        return _run(_PRODUCT_SQL.format(offer=_offer_sql(offer, params)), params, kind)
    if kind != KIND_BOUGHT_TOGETHER:
        raise ValueError(f"unknown kind {kind!r}")
    pairs = (
        ProductPair.objects.filter(workspace_id=product.workspace_id, product=product)
        .filter(_offerable("other", offer))
        .select_related("other")
        .order_by("-lift", "-together", "other_id")[:n]
    )
    return [Recommendation(p.other, KIND_BOUGHT_TOGETHER, p.lift) for p in pairs]
