"""What a tier is reached by, measured per contact: the tier review, the earning hook
and the member page read the same numbers.

- `points`: the points earned in the window, net of refunds: the contact's earn and
  reverse ledger entries whose `occurred_at` is within the window (adjustments and
  redemptions do not count).
- `spend`: the money spent in the window, net of refunds: the revenue of the contact's
  purchase events (the workspace's purchase event names; negative for a refund) whose
  `occurred_at` is within the window, in the workspace's currency (ingest refuses
  others), floored to whole units. Every purchase counts, also those from before the
  programme was switched on: it is what the customer spent.

The window is rolling: `occurred_at > now - window_days`."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.db import connection

from loyalty.models import Programme, TierBasis

DEFAULT_WINDOW_DAYS = 365

_POINTS_SQL = """
SELECT contact_id, coalesce(sum(points), 0) FROM loyalty_ledgerentry
WHERE workspace_id = %s AND contact_id = ANY(%s) AND kind IN ('earn', 'reverse')
  AND occurred_at > %s
GROUP BY contact_id
"""

# Through the events' (contact, name, occurred_at) index.
_SPEND_SQL = """
SELECT contact_id, coalesce(sum(revenue), 0) FROM contacts_event
WHERE workspace_id = %s AND contact_id = ANY(%s) AND name = ANY(%s)
  AND revenue IS NOT NULL AND occurred_at > %s
GROUP BY contact_id
"""


@dataclass(frozen=True)
class TierRule:
    """How a workspace's tiers are reached, and how long a member keeps one."""

    basis: str
    window_days: int
    grace_days: int
    purchase_names: tuple[str, ...]
    currency: str = ""

    @property
    def window(self) -> dt.timedelta:
        return dt.timedelta(days=self.window_days)

    @property
    def unit(self) -> str:
        """What a threshold counts: "points" or the currency's code."""
        return self.currency if self.basis == TierBasis.SPEND else "points"

    @property
    def window_label(self) -> str:
        """The window as people say it: "12 months" for 365 days."""
        if self.window_days % 365 == 0:
            years = self.window_days // 365
            return "12 months" if years == 1 else f"{years * 12} months"
        return "1 day" if self.window_days == 1 else f"{self.window_days} days"


def tier_rule_for(*, workspace_id: int) -> TierRule:
    """The workspace's tier settings (the defaults when it has no programme)."""
    row = Programme.objects.filter(workspace_id=workspace_id).select_related("workspace").first()
    if row is None:
        return TierRule(TierBasis.POINTS, DEFAULT_WINDOW_DAYS, 0, ())
    return TierRule(
        basis=row.tier_basis,
        window_days=row.tier_window_days,
        grace_days=row.tier_grace_days,
        purchase_names=tuple(row.workspace.purchase_event_names),
        currency=row.workspace.currency,
    )


def tier_measure(
    *, workspace_id: int, contact_ids: list[int], rule: TierRule, now: dt.datetime
) -> dict[int, int]:
    """Each contact's points or whole units spent in the rule's window (0 without any)."""
    if rule.basis == TierBasis.SPEND:
        sql, params = _SPEND_SQL, [list(rule.purchase_names)]
    else:
        sql, params = _POINTS_SQL, []
    with connection.cursor() as cursor:
        cursor.execute(sql, [workspace_id, sorted(contact_ids), *params, now - rule.window])
        found = {int(contact): math.floor(total) for contact, total in cursor.fetchall()}
    return {contact: found.get(contact, 0) for contact in contact_ids}
