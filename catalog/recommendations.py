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
from config.db import bound_cursor
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


# One statement per request: the contact's own list of the kind (source 0), the
# workspace's list of the kind (1) and the popular fallback (2), each product kept at
# its first place, in that order; joined to the product (by primary key, in order, so
# that the LIMIT stops the probes early) with the offer's conditions; never what the
# contact bought (stored with when, by the compute) unless a consumable whose
# `repurchase_days` have passed since, nor the products of purchase events received
# since the last compute, whenever they happened (through the contact/name/time event
# index: a contact's few purchases; usually none qualify).
_CONTACT_SQL = """
SELECT p.*, c.score AS rec_score, c.source = 2 AS rec_fallback
FROM (
  SELECT * FROM (
    SELECT DISTINCT ON (u.pid) u.pid, u.score, u.source, u.pos FROM (
      SELECT u.pid, u.score, 0 AS source, u.pos
      FROM catalog_contactrecommendation r,
           unnest(r.items, r.scores) WITH ORDINALITY AS u(pid, score, pos)
      WHERE r.workspace_id = %(ws)s AND r.contact_id = %(contact)s AND r.kind = %(kind)s
      UNION ALL
      SELECT u.pid, u.score, CASE WHEN r.kind = %(kind)s THEN 1 ELSE 2 END, u.pos
      FROM catalog_workspacerecommendation r,
           unnest(r.items, r.scores) WITH ORDINALITY AS u(pid, score, pos)
      WHERE r.workspace_id = %(ws)s AND r.kind IN (%(kind)s, 'popular')
    ) u
    ORDER BY u.pid, u.source, u.pos
  ) first_place
  ORDER BY source, pos
) c
JOIN catalog_product p ON p.id = c.pid AND p.workspace_id = %(ws)s
LEFT JOIN (
  SELECT b.pid, b.at FROM catalog_contactpurchases cp,
       unnest(cp.items, cp.bought_at) AS b(pid, at)
  WHERE cp.workspace_id = %(ws)s AND cp.contact_id = %(contact)s
) bought ON bought.pid = c.pid
WHERE {offer}
  AND (bought.pid IS NULL OR coalesce(bought.at < %(now)s - 86400 * nullif(CASE
       WHEN p.attributes ->> 'repurchase_days' ~ '^[0-9]{{1,5}}$'
       THEN (p.attributes ->> 'repurchase_days')::int8 ELSE 0 END, 0), false))
  AND NOT (p.product_id = ANY(ARRAY(
    SELECT btrim(item ->> 'product_id') FROM contacts_event e
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE WHEN jsonb_typeof(e.properties -> 'items') = 'array'
             THEN e.properties -> 'items' ELSE '[]'::jsonb END) AS item
    WHERE e.contact_id = %(contact)s AND e.workspace_id = %(ws)s AND e.name = 'purchase'
      AND e.received_at >= coalesce((
          SELECT computed_at FROM catalog_workspacerecommendation
          WHERE workspace_id = %(ws)s AND kind = 'popular'), '-infinity')
      AND jsonb_typeof(item) = 'object')))
ORDER BY c.source, c.pos
LIMIT %(n)s
"""


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
    """One statement: the products with their score and whether the fallback gave them.
    Sent with server-side binding (config.db.bound_cursor: prepared once run a few
    times on a connection, so a request is not planned again), the products built as
    Django builds them from a row (each field's database converters)."""
    fields = Product._meta.concrete_fields
    columns = ", ".join(f"p.{connection.ops.quote_name(str(f.column))}" for f in fields)
    with bound_cursor() as cursor:
        cursor.execute(sql.replace("p.*", columns, 1), params)
        rows = cursor.fetchall()
    converters = [(i, f.get_db_converters(connection), f) for i, f in enumerate(fields)]
    names = [f.attname for f in fields]
    found = []
    for row in rows:
        values = list(row[: len(fields)])
        for i, functions, field in converters:
            for convert in functions:
                values[i] = convert(values[i], field, connection)
        product = Product.from_db(connection.alias, names, values)
        score, fallback = row[len(fields)], row[len(fields) + 1]
        found.append(Recommendation(product, KIND_POPULAR if fallback else kind, float(score)))
    return found


def recommendations_for_contact(
    *, contact: Contact, n: int, kind: str = KIND_FOR_YOU, offer: Offer = Offer()
) -> list[Recommendation]:
    """What to offer one contact, best first: their stored list of `kind` (for_you),
    or the workspace's (popular, trending, new_arrivals), then the most popular to make
    up `n`; never what they bought (unless a consumable bought long enough ago) nor
    what the offer leaves out; fewer than `n` when nothing else is left. One read."""
    if kind not in CONTACT_KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    params: dict[str, Any] = {
        "ws": contact.workspace_id,
        "contact": contact.pk,
        "kind": kind,
        "n": n,
        "now": int(time.time()),
    }
    return _run(_CONTACT_SQL.format(offer=_offer_sql(offer, params)), params, kind)


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
