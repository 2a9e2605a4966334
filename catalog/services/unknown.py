"""Product ids that events named and the catalogue did not hold: recorded per
workspace (how often, when first and last, by which event) instead of refusing the
events, so the shop sees what its feed is missing."""

from __future__ import annotations

import json
from typing import Any

from catalog.line_items import product_ids_named
from config.db import bound_cursor
from workspaces.models import Workspace

# One statement: the named ids the catalogue does not hold are added, or their counts
# and times moved on. In product_id order, so that concurrent requests lock the rows in
# one order. Outside a transaction, like the events' own insert: a repeat only counts
# the same events again.
_RECORD_SQL = """
INSERT INTO catalog_unknownproduct AS u (
    workspace_id, product_id, occurrences, last_event, first_seen_at, last_seen_at
)
SELECT %(ws)s, r.product_id, r.n, r.event, r.first_at, r.last_at
FROM jsonb_to_recordset(%(rows)s::jsonb)
     AS r(product_id text, n bigint, event text, first_at timestamptz, last_at timestamptz)
WHERE NOT EXISTS (
    SELECT 1 FROM catalog_product p
    WHERE p.workspace_id = %(ws)s AND p.product_id = r.product_id
)
ORDER BY r.product_id
ON CONFLICT (workspace_id, product_id) DO UPDATE SET
    occurrences = u.occurrences + EXCLUDED.occurrences,
    last_event = EXCLUDED.last_event,
    first_seen_at = least(u.first_seen_at, EXCLUDED.first_seen_at),
    last_seen_at = greatest(u.last_seen_at, EXCLUDED.last_seen_at)
"""


def unknown_products_record(workspace: Workspace, events: list[dict[str, Any]]) -> None:
    """Record the product ids the events name that the catalogue does not hold
    (contacts' `on_events_recorded` hook, registered in catalog/apps.py)."""
    named: dict[str, dict[str, Any]] = {}
    for event in events:
        moment = event["occurred_at"]
        for product_id in product_ids_named(event["name"], event["properties"]):
            seen = named.setdefault(product_id, {"n": 0, "first_at": moment, "last_at": moment})
            seen["n"] += 1
            seen["event"] = event["name"]
            seen["first_at"] = min(seen["first_at"], moment)
            seen["last_at"] = max(seen["last_at"], moment)
    if not named:
        return
    rows = [
        {
            "product_id": product_id,
            "n": seen["n"],
            "event": seen["event"],
            "first_at": seen["first_at"].isoformat(),
            "last_at": seen["last_at"].isoformat(),
        }
        for product_id, seen in named.items()
    ]
    with bound_cursor() as cursor:
        cursor.execute(_RECORD_SQL, {"ws": workspace.pk, "rows": json.dumps(rows)})
