"""Recommendation and product block performance: per kind (product, cart,
for_you, popular), how many products messages showed, the clicks on those
products' links, and the revenue of purchases of a shown product by the message's
contact within the window after the message was sent.

Clicks come from messaging's tracking (campaigns_trackingevent: the click's URL is
the stored link it led to, matched to the address recorded when the message showed
the product); bot and prefetch clicks are not counted. Revenue counts a purchase's
line items naming the shown product (their price times quantity, else the catalogue's
price), every message that showed the product within the window getting it
(any-touch, not last-touch: a product shown by two messages counts for both)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from workspaces.models import Workspace

CENT = Decimal("0.01")
# How the performance table names each kind of what a message showed.
KIND_LABELS = {
    "product": "Product block",
    "cart": "Cart block",
    "for_you": "Recommended for them",
    "popular": "Most popular",
    "bought_together": "Bought together",
    "viewed": "Products they looked at",
}
_SQL = """
WITH shown AS (
    SELECT mp.kind, mp.message_id, mp.url, p.product_id AS sku, p.price, m.contact_id,
           m.sent_at
    FROM catalog_messageproduct mp
    JOIN campaigns_message m ON m.id = mp.message_id AND m.workspace_id = mp.workspace_id
    JOIN catalog_product p ON p.id = mp.product_id
    WHERE mp.workspace_id = %(ws)s AND m.origin_kind = %(origin)s
      AND m.origin_id = ANY(%(ids)s) AND m.sent_at IS NOT NULL
)
SELECT s.kind, count(*) AS shown,
    coalesce(sum((
        SELECT count(*) FROM campaigns_trackingevent t
        WHERE t.workspace_id = %(ws)s AND t.message_id = s.message_id AND t.kind = 'click'
          AND NOT t.is_bot AND s.url <> '' AND t.url = s.url
    )), 0) AS clicks,
    coalesce(sum((
        SELECT sum(coalesce((item ->> 'price')::numeric, s.price, 0)
                   * coalesce((item ->> 'quantity')::numeric, 1))
        FROM contacts_event e
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE WHEN jsonb_typeof(e.properties -> 'items') = 'array'
                 THEN e.properties -> 'items' ELSE '[]'::jsonb END) AS item
        WHERE e.workspace_id = %(ws)s AND e.contact_id = s.contact_id
          AND e.name = 'purchase' AND e.occurred_at > s.sent_at
          AND e.occurred_at <= s.sent_at + make_interval(days => %(days)s)
          AND jsonb_typeof(item) = 'object' AND btrim(item ->> 'product_id') = s.sku
    )), 0) AS revenue
FROM shown s
GROUP BY s.kind
ORDER BY s.kind
"""


@dataclass(frozen=True)
class KindPerformance:
    kind: str
    shown: int
    clicks: int
    revenue: Decimal

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def click_rate(self) -> float:
        """Clicks per product shown."""
        return self.clicks / self.shown if self.shown else 0.0


def product_performance(
    *, workspace: Workspace, origin_kind: str, origin_ids: list[int], window_days: int = 7
) -> list[KindPerformance]:
    """Per kind, for the messages of a broadcast (origin "broadcast") or of a journey's
    steps (origin "journey_step")."""
    if not origin_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            _SQL,
            {"ws": workspace.pk, "origin": origin_kind, "ids": origin_ids, "days": window_days},
        )
        return [
            KindPerformance(k, int(s), int(c), Decimal(r).quantize(CENT))
            for k, s, c, r in cursor.fetchall()
        ]
