"""The loyalty cards: on the loyalty report, its key figures; on the overview, the
outstanding points liability when the workspace runs a programme."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from analytics.figures.loyalty import liability
from workspaces.models import Workspace


def _count(value: Any) -> str:
    return "—" if value is None else f"{int(value):,}"


def loyalty_cards(*, workspace: Workspace, data: dict[str, Any]) -> list[dict[str, str]]:
    now = data.get("now") or liability(workspace=workspace)
    if "now" not in data and not now["enabled"]:
        return []  # the overview of a workspace without a programme
    cards = [
        {
            "key": "liability",
            "label": "Points liability",
            "value": f"{now['currency']} {Decimal(now['liability']):,.2f}",
            "note": f"{_count(now['outstanding_points'])} points at "
            f"{now['currency']} {now['value_per_point']}",
        },
    ]
    totals = data.get("totals")
    if totals is None:
        return cards
    rate = totals["redemption_rate"]
    return [
        {"key": "members", "label": "Members", "value": _count(now["members"]), "note": "now"},
        {
            "key": "active_members",
            "label": "Active members",
            "value": _count(totals["active_members"]),
            "note": "earned or redeemed in the period",
        },
        {"key": "issued", "label": "Points issued", "value": _count(totals["issued"]), "note": ""},
        {
            "key": "redeemed",
            "label": "Points redeemed",
            "value": _count(totals["redeemed"]),
            "note": f"{_count(totals['redemptions'])} redemptions",
        },
        {
            "key": "expired",
            "label": "Points expired",
            "value": _count(totals["expired"]),
            "note": "",
        },
        {
            "key": "redemption_rate",
            "label": "Redemption rate",
            "value": "—" if rate is None else f"{rate * 100:.1f}%",
            "note": "points redeemed / issued",
        },
        *cards,
    ]
