"""The demo's analytics: rollups built, a year of marketing spend on the paid sources,
and a CLV fit applied, so every figure has something to show on first login."""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from decimal import Decimal

from analytics.models import Spend
from analytics.rollups import rollups_rebuild
from analytics.services.clv import clv_fit
from config.errors import Conflict
from lifecycle.hooks import transitions_dispatch
from workspaces.models import Workspace

# monthly budget per paid source, before noise
BUDGETS = {"paid_search": 1800, "social": 1100, "partner": 400, "podcast": 650}


def demo_analytics_create(*, workspace: Workspace, today: dt.date, seed: int) -> int:
    """Build the rollups, enter 12 months of spend and fit CLV; returns spend rows."""
    # The replayed year of stage moves goes through the stage.changed hooks now, as the
    # worker would, so the funnel counts them from the first page load.
    while transitions_dispatch(limit=5000):
        pass
    rollups_rebuild(workspace_id=workspace.pk)
    rng = random.Random(seed)
    month = today.replace(day=1)
    rows = []
    for _ in range(12):
        for source, budget in BUDGETS.items():
            amount = Decimal(budget * rng.uniform(0.7, 1.3)).quantize(Decimal("0.01"))
            rows.append(Spend(workspace=workspace, source=source, month=month, amount=amount))
        month = (month - dt.timedelta(days=1)).replace(day=1)
    Spend.objects.bulk_create(rows, ignore_conflicts=True)
    with contextlib.suppress(Conflict):  # a tiny demo has too few customers to fit
        clv_fit(workspace=workspace)
    return len(rows)
