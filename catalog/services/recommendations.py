"""Popularity and "bought together" per workspace, computed by a worker from the
workspace's own `purchase` events' line items and stored, so that serving a
recommendation (catalog.recommendations) reads a few rows and never computes."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from workspaces.models import Workspace

log = logging.getLogger(__name__)

# Which contact bought which catalogue product in the window: each purchase event's
# line items (only well-formed ones: the events API checks them, other writers may not
# have), joined to the catalogue on the workspace and product_id.
_BOUGHT = """
CREATE TEMPORARY TABLE catalog_bought ON COMMIT DROP AS
SELECT DISTINCT e.contact_id, p.id AS product_id
FROM contacts_event e
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(e.properties -> 'items') = 'array'
         THEN e.properties -> 'items' ELSE '[]'::jsonb END
) AS item
JOIN catalog_product p
  ON p.workspace_id = e.workspace_id AND p.product_id = btrim(item ->> 'product_id')
WHERE e.workspace_id = %(ws)s AND e.name = 'purchase' AND e.occurred_at >= %(since)s
  AND jsonb_typeof(item) = 'object'
"""
_POPULARITY = """
INSERT INTO catalog_productpopularity (workspace_id, product_id, buyers, computed_at)
SELECT %(ws)s, product_id, count(*), %(now)s FROM catalog_bought GROUP BY product_id
"""
# Pairs of products bought by the same contact, with at least `min_together` such
# contacts; lift against the window's buyers; the `keep` best per product by lift.
_PAIRS = """
WITH buyers AS (
    SELECT product_id, count(*) AS n FROM catalog_bought GROUP BY product_id
), everyone AS (
    SELECT count(DISTINCT contact_id) AS n FROM catalog_bought
), pairs AS (
    SELECT a.product_id AS product, b.product_id AS other, count(*) AS together
    FROM catalog_bought a
    JOIN catalog_bought b ON b.contact_id = a.contact_id AND b.product_id <> a.product_id
    GROUP BY 1, 2
    HAVING count(*) >= %(min_together)s
), scored AS (
    SELECT pairs.*, pairs.together::float8 * everyone.n / (pa.n * pb.n) AS lift,
           row_number() OVER (
               PARTITION BY pairs.product
               ORDER BY pairs.together::float8 / (pa.n * pb.n) DESC, pairs.other
           ) AS position
    FROM pairs
    CROSS JOIN everyone
    JOIN buyers pa ON pa.product_id = pairs.product
    JOIN buyers pb ON pb.product_id = pairs.other
)
INSERT INTO catalog_productpair (workspace_id, product_id, other_id, together, lift, computed_at)
SELECT %(ws)s, product, other, together, lift, %(now)s FROM scored WHERE position <= %(keep)s
"""


@dataclass(frozen=True)
class Computed:
    products: int
    pairs: int
    seconds: float


def recommendations_compute(*, workspace: Workspace) -> Computed:
    """Replace the workspace's stored popularity and bought-together pairs.

    1. Collect who bought which catalogue product in the last
       CATALOG_RECS_WINDOW_DAYS from `purchase` events' line items (a temporary table).
    2. Popularity: buyers per product.
    3. Pairs: for each two products, the contacts who bought both; kept with at least
       CATALOG_RECS_MIN_TOGETHER of them, the CATALOG_RECS_PAIRS_PER_PRODUCT best by
       lift per product.
    One transaction: readers see the old rows until the new ones are committed. Safe to
    run twice (it replaces)."""
    now = timezone.now()
    params = {
        "ws": workspace.pk,
        "now": now,
        "since": now - dt.timedelta(days=settings.CATALOG_RECS_WINDOW_DAYS),
        "min_together": settings.CATALOG_RECS_MIN_TOGETHER,
        "keep": settings.CATALOG_RECS_PAIRS_PER_PRODUCT,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        # Dropped at commit; also here, for a caller already inside a transaction.
        cursor.execute("DROP TABLE IF EXISTS pg_temp.catalog_bought")
        cursor.execute(_BOUGHT, params)
        for table in ("catalog_productpopularity", "catalog_productpair"):
            cursor.execute(f"DELETE FROM {table} WHERE workspace_id = %s", [workspace.pk])
        cursor.execute(_POPULARITY, params)
        products = cursor.rowcount
        cursor.execute(_PAIRS, params)
        pairs = cursor.rowcount
        # Every row of the workspace was just replaced: fresh statistics keep the
        # serving reads on their indexes (a sample, cheap next to the compute).
        cursor.execute("ANALYZE catalog_productpair, catalog_productpopularity")
    seconds = (timezone.now() - now).total_seconds()
    log.info(
        "catalog.recommendations_computed workspace=%s products=%s pairs=%s seconds=%.2f",
        workspace.pk,
        products,
        pairs,
        seconds,
    )
    return Computed(products=products, pairs=pairs, seconds=seconds)
