"""Serving recommendations from the stored popularity and pairs
(catalog.services.recommendations computes them): a few indexed reads, no model."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import Q, Sum

from catalog.models import Product, ProductPair, ProductPopularity
from contacts.models import Contact

KIND_BOUGHT_TOGETHER = "bought_together"
KIND_POPULAR = "popular"


@dataclass(frozen=True)
class Recommendation:
    product: Product
    kind: str  # bought_together | popular
    score: float  # the lift (summed over the contact's products), or the buyers


@dataclass(frozen=True)
class Offer:
    """Which products may be offered: always active ones; in stock unless
    `in_stock_only` is off; of `category` when given; never the `exclude`d ids."""

    in_stock_only: bool = True
    category: str | None = None
    exclude: frozenset[str] = frozenset()


def _offerable(through: str, offer: Offer) -> Q:
    """The offer as conditions on the joined product (`through`), so the plan starts
    from the stored rows of the product or contact asked about, whatever the table
    statistics say."""
    condition = Q(**{f"{through}__active": True})
    if offer.in_stock_only:
        condition &= Q(**{f"{through}__in_stock": True})
    if offer.category:
        condition &= Q(**{f"{through}__categories__contains": [offer.category]})
    if offer.exclude:
        condition &= ~Q(**{f"{through}__product_id__in": sorted(offer.exclude)})
    return condition


def similar_products(*, product: Product, n: int, offer: Offer = Offer()) -> list[Recommendation]:
    """Bought together with `product`, best lift first."""
    pairs = (
        ProductPair.objects.filter(workspace_id=product.workspace_id, product=product)
        .filter(_offerable("other", offer))
        .select_related("other")
        .order_by("-lift", "-together", "other_id")[:n]
    )
    return [Recommendation(p.other, KIND_BOUGHT_TOGETHER, p.lift) for p in pairs]


# The catalogue products a contact bought (any time): what "not already bought" leaves
# out. The contact's purchase events come through the (workspace, contact, name, time)
# index; their product ids are collected first (an init plan), then looked up in the
# catalogue's unique index, a plan no stale estimate of the catalogue's size can turn
# into a scan of every product.
_BOUGHT_SQL = """
SELECT p.id FROM catalog_product p
WHERE p.workspace_id = %s AND p.product_id = ANY(ARRAY(
    SELECT DISTINCT btrim(item ->> 'product_id')
    FROM contacts_event e
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE WHEN jsonb_typeof(e.properties -> 'items') = 'array'
             THEN e.properties -> 'items' ELSE '[]'::jsonb END
    ) AS item
    WHERE e.workspace_id = %s AND e.contact_id = %s AND e.name = 'purchase'
      AND jsonb_typeof(item) = 'object'
))
"""


def products_bought(*, contact: Contact) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(_BOUGHT_SQL, [contact.workspace_id, contact.workspace_id, contact.pk])
        return {row[0] for row in cursor.fetchall()}


def recommendations_for_contact(
    *, contact: Contact, n: int, offer: Offer = Offer()
) -> list[Recommendation]:
    """For one contact: products bought together with what they bought (lift summed
    over their products), then the most popular, leaving out what they bought and
    what is not offerable; fewer than `n` when the catalogue has no more."""
    bought = products_bought(contact=contact)
    chosen: dict[int, Recommendation] = {}
    if bought:
        # Summed and ranked by PostgreSQL: only the n winners come back as products.
        best = list(
            ProductPair.objects.filter(workspace_id=contact.workspace_id, product_id__in=bought)
            .exclude(other_id__in=bought)
            .filter(_offerable("other", offer))
            .values("other_id")
            .annotate(score=Sum("lift"))
            .order_by("-score", "other_id")[:n]
        )
        others = Product.objects.filter(workspace_id=contact.workspace_id).in_bulk(
            [row["other_id"] for row in best]
        )
        for pair in best:
            chosen[pair["other_id"]] = Recommendation(
                others[pair["other_id"]], KIND_BOUGHT_TOGETHER, pair["score"]
            )
    if len(chosen) < n:
        popular = (
            ProductPopularity.objects.filter(workspace_id=contact.workspace_id)
            .exclude(product_id__in=bought | set(chosen))
            .filter(_offerable("product", offer))
            .select_related("product")
            .order_by("-buyers", "product_id")[: n - len(chosen)]
        )
        for row in popular:
            chosen[row.product_id] = Recommendation(row.product, KIND_POPULAR, float(row.buyers))
    return list(chosen.values())
