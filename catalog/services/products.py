"""Writes of the product catalogue: upserts (one product or a batch of up to 1,000 in
one statement) and deactivation."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from catalog.hooks import BACK_IN_STOCK, PRICE_DROP, ProductChange, products_changed_notify
from catalog.models import Product
from config.db import bound_cursor
from contacts.validation import Errors
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record

# Every column an upsert writes, after workspace_id; compared to tell "unchanged".
_COLUMNS = (
    "title",
    "url",
    "image_url",
    "price",
    "currency",
    "categories",
    "brand",
    "in_stock",
    "quantity",
    "attributes",
    "active",
)

# The cleaned products travel as one JSON document. Rows are inserted in product_id
# order so that concurrent batches naming the same products lock them in the same
# order (no deadlock). A row whose every column already has the given value is not
# written (the WHERE of DO UPDATE), so it is not returned: that is "unchanged".
# `xmax = 0` holds for a row this statement inserted, not for one it updated.
_UPSERT_SQL = f"""
WITH rows AS (
    SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(
        product_id text, title text, url text, image_url text, price numeric,
        currency text, categories jsonb, brand text, in_stock boolean, quantity int,
        attributes jsonb, active boolean)
), old AS (
    -- The rows as they were before this statement (a CTE sees the statement's
    -- snapshot), to tell back-in-stock and price drops (catalog/hooks.py).
    SELECT o.product_id, o.in_stock, o.active, o.price, o.currency FROM catalog_product o
    WHERE o.workspace_id = %(ws)s AND o.product_id IN (SELECT product_id FROM rows)
), up AS (
INSERT INTO catalog_product AS p (
    workspace_id, product_id, {", ".join(_COLUMNS)}, created_at, updated_at
)
SELECT %(ws)s, r.product_id, r.title, r.url, r.image_url, r.price, r.currency,
       ARRAY(SELECT jsonb_array_elements_text(r.categories)), r.brand, r.in_stock,
       r.quantity, r.attributes, r.active, %(now)s, %(now)s
FROM rows r
ORDER BY r.product_id
ON CONFLICT (workspace_id, product_id) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS)}, updated_at = EXCLUDED.updated_at
WHERE ({", ".join(f"p.{c}" for c in _COLUMNS)})
      IS DISTINCT FROM ({", ".join(f"EXCLUDED.{c}" for c in _COLUMNS)})
RETURNING p.id, p.product_id, (p.xmax = 0) AS created, p.in_stock, p.active, p.price,
          p.currency
)
SELECT up.product_id, up.created, up.id, up.in_stock AND up.active, up.price, up.currency,
       old.in_stock AND old.active, old.price, old.currency
FROM up LEFT JOIN old USING (product_id)
"""


@dataclass
class ProductResult:
    index: int
    status: str  # created | updated | unchanged | error
    product_id: str | None = None
    errors: Errors = field(default_factory=dict)
    duplicate_of: int | None = None  # the earlier item with the same product_id

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "status": self.status}
        if self.product_id is not None:
            out["product_id"] = self.product_id
        if self.errors:
            out["errors"] = self.errors
        return out


def _row(item: dict[str, Any]) -> dict[str, Any]:
    row = {name: item[name] for name in ("product_id", *_COLUMNS)}
    row["price"] = None if item["price"] is None else str(item["price"])
    return row


def _changes(workspace: Workspace, returned: list[Any], now: Any) -> list[ProductChange]:
    """Back in stock (offerable now, not before) and price drops among the updated
    rows (a created product changed from nothing)."""
    out: list[ProductChange] = []
    for product_id, created, pk, offerable, price, currency, was, old_price, old_cur in returned:
        if created:
            continue
        if offerable and not was:
            out.append(ProductChange(workspace.pk, pk, product_id, BACK_IN_STOCK, now))
        if (
            price is not None
            and old_price is not None
            and currency == old_cur
            and price < old_price
        ):
            out.append(
                ProductChange(workspace.pk, pk, product_id, PRICE_DROP, now, old_price, price)
            )
    return out


@transaction.atomic
def products_upsert(
    *, workspace: Workspace, items: Sequence[dict[str, Any]], actor: Actor, source: str
) -> list[ProductResult]:
    """Create or replace the given products (cleaned by catalog.validation), matched
    by product_id, in one statement. A product_id given twice in the call is an error
    for its later items (one statement cannot write a row twice); the first is kept.
    Returns one result per item, in order."""
    results: list[ProductResult] = []
    first_index: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        product_id = item["product_id"]
        if product_id in first_index:
            reason = f"is also item {first_index[product_id]} of this batch"
            results.append(
                ProductResult(
                    index,
                    "error",
                    product_id,
                    {"product_id": [reason]},
                    duplicate_of=first_index[product_id],
                )
            )
            continue
        first_index[product_id] = index
        rows.append(_row(item))
        results.append(ProductResult(index, "unchanged", product_id))
    written: dict[str, bool] = {}
    changes: list[ProductChange] = []
    if rows:
        now = timezone.now()
        with bound_cursor() as cursor:
            cursor.execute(_UPSERT_SQL, {"ws": workspace.pk, "now": now, "rows": json.dumps(rows)})
            returned = cursor.fetchall()
            written = {row[0]: row[1] for row in returned}
            changes = _changes(workspace, returned, now)
            # Ids events named before the catalogue held them are known now.
            cursor.execute(
                "DELETE FROM catalog_unknownproduct WHERE workspace_id = %s "
                "AND product_id = ANY(%s)",
                [workspace.pk, sorted(written)],
            )
    for result in results:
        if result.status == "unchanged" and result.product_id in written:
            result.status = "created" if written[result.product_id] else "updated"
    products_changed_notify(changes)
    created = sum(1 for r in results if r.status == "created")
    updated = sum(1 for r in results if r.status == "updated")
    if created or updated:
        audit_record(
            workspace=workspace,
            action="products.upserted",
            actor=actor,
            object_type="product",
            details={
                "source": source,
                "created": created,
                "updated": updated,
                "product_ids": sorted(written)[:20],
            },
        )
    return results


@transaction.atomic
def product_deactivate(*, product: Product, actor: Actor) -> bool:
    """Take a product out of the catalogue's active set (what messages and
    recommendations offer); its row stays so events that name it stay known. True if
    this call changed it."""
    changed = Product.objects.filter(
        workspace_id=product.workspace_id, pk=product.pk, active=True
    ).update(active=False, updated_at=timezone.now())
    if changed:
        audit_record(
            workspace=product.workspace,
            action="product.deactivated",
            actor=actor,
            object_type="product",
            object_id=product.pk,
            details={"product_id": product.product_id},
        )
    return bool(changed)
