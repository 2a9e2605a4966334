"""The scheduled tier review (services/tiers.py has the rules): every contact that can be
in a tier, in chunks, each evaluated with cause `review` (up at once, down after the
grace period)."""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone

from loyalty.models import PointsBalance, Tier, TierBasis, TierCause
from loyalty.selectors_tiers import TierRule, tier_rule_for
from loyalty.services.tiers import tiers_evaluate

REVIEW_CHUNK = 1000

_SPEND_CANDIDATES_SQL = """
SELECT c.id FROM (
    SELECT id FROM contacts_contact WHERE workspace_id = %(ws)s AND id > %(after)s
    ORDER BY id LIMIT %(chunk)s
) c
WHERE EXISTS (SELECT 1 FROM loyalty_contacttier t
              WHERE t.workspace_id = %(ws)s AND t.contact_id = c.id)
   OR EXISTS (SELECT 1 FROM contacts_event e
              WHERE e.workspace_id = %(ws)s AND e.contact_id = c.id AND e.name = ANY(%(names)s)
                AND e.revenue IS NOT NULL AND e.occurred_at > %(since)s)
ORDER BY c.id
"""


def _review_chunk(
    workspace_id: int, rule: TierRule, after: int, now: dt.datetime
) -> tuple[list[int], int | None]:
    """The next chunk's contacts to evaluate, and where the chunk after starts (none:
    done). By points: the contacts with a balance row (nobody else earned). By spend:
    of the next REVIEW_CHUNK contacts, those with a tier row or a purchase in the
    window (a purchase before the programme earned no points, yet it counts)."""
    if rule.basis != TierBasis.SPEND:
        chunk = list(
            PointsBalance.objects.filter(workspace_id=workspace_id, contact_id__gt=after)
            .order_by("contact_id")
            .values_list("contact_id", flat=True)[:REVIEW_CHUNK]
        )
        return chunk, (chunk[-1] if chunk else None)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT max(id) FROM (SELECT id FROM contacts_contact WHERE workspace_id = %s"
            " AND id > %s ORDER BY id LIMIT %s) c",
            [workspace_id, after, REVIEW_CHUNK],
        )
        last = cursor.fetchone()[0]
        if last is None:
            return [], None
        cursor.execute(
            _SPEND_CANDIDATES_SQL,
            {
                "ws": workspace_id,
                "after": after,
                "chunk": REVIEW_CHUNK,
                "names": list(rule.purchase_names),
                "since": now - rule.window,
            },
        )
        return [int(row[0]) for row in cursor.fetchall()], int(last)


def tiers_review(*, workspace_id: int, now: dt.datetime | None = None) -> int:
    """The scheduled review of a workspace: every contact that can be in a tier, in
    chunks of REVIEW_CHUNK contacts, one transaction each (safe to run twice: a second
    run moves nobody)."""
    now = now or timezone.now()
    rule = tier_rule_for(workspace_id=workspace_id)
    moved, after = 0, 0
    while True:
        chunk, last = _review_chunk(workspace_id, rule, after, now)
        if last is None:
            return moved
        if chunk:
            with transaction.atomic():
                moved += tiers_evaluate(
                    workspace_id=workspace_id, contact_ids=chunk, cause=TierCause.REVIEW, now=now
                )
        after = last


def tiers_review_due(*, now: dt.datetime | None = None) -> int:
    """Review every workspace that has tiers (beat, daily)."""
    workspaces = Tier.objects.values_list("workspace_id", flat=True).distinct()
    return sum(tiers_review(workspace_id=w, now=now) for w in sorted(set(workspaces)))
