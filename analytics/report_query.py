"""A report's parameters, read once from the request: the period, its buckets, the
filters and the workspace's local today (the same for the API and the dashboard)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from analytics.figures.common import (
    Filters,
    Period,
    buckets,
    parse_filters,
    parse_granularity,
    parse_period,
)
from analytics.models import CohortCell
from config.errors import InvalidInput
from workspaces.models import Workspace

MAX_BUCKETS = 750


@dataclass(frozen=True)
class Query:
    """A report's parsed parameters."""

    workspace: Workspace
    period: Period
    granularity: str
    filters: Filters
    today: dt.date
    as_of: dt.date
    basis: str

    def cache_key(self) -> str:
        """What the figures depend on besides the data: the parameters, and the rule of a
        segment filter (editing the segment changes its contacts)."""
        parts = self.echo()
        if self.filters.segment is not None:
            rule = json.dumps(self.filters.segment.rule, sort_keys=True)
            parts["segment_rule"] = hashlib.sha256(rule.encode()).hexdigest()[:16]
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]

    def echo(self) -> dict[str, Any]:
        """The parameters as the response states them."""
        return {
            "start": self.period.start.isoformat(),
            "end": self.period.end.isoformat(),
            "granularity": self.granularity,
            "segment": self.filters.segment.pk if self.filters.segment else None,
            "source": self.filters.source,
            "signup_month": self.filters.signup_month.isoformat()[:7]
            if self.filters.signup_month
            else None,
            "as_of": self.as_of.isoformat(),
            "basis": self.basis,
        }


def local_today(workspace: Workspace) -> dt.date:
    return timezone.now().astimezone(zoneinfo.ZoneInfo(workspace.time_zone)).date()


def parse_query(
    params: Any, *, workspace: Workspace, default_days: int = 90, default_granularity: str = "week"
) -> Query:
    """Every report takes the same parameters: start, end (local dates), granularity,
    segment, source, signup_month; the funnel also as_of, cohorts also basis."""
    today = local_today(workspace)
    period = parse_period(params, today=today, default_days=default_days)
    granularity = parse_granularity(params, default_granularity)
    count = len(buckets(period, granularity))
    if count > MAX_BUCKETS:
        # Each bucket is a column of some figures' one-scan SQL (PostgreSQL allows 1664).
        raise InvalidInput(
            f"The period has {count} {granularity}s; at most {MAX_BUCKETS} buckets.",
            fields={
                "granularity": [f"at most {MAX_BUCKETS} buckets: a longer one, or a shorter period"]
            },
        )
    filters = parse_filters(params, workspace=workspace)
    as_of = period.end
    if params.get("as_of"):
        try:
            as_of = dt.date.fromisoformat(params["as_of"])
        except ValueError:
            raise InvalidInput(
                "as_of must be a date.", fields={"as_of": ["must be a date, YYYY-MM-DD"]}
            ) from None
    basis = params.get("basis") or CohortCell.Basis.SIGNUP
    if basis not in CohortCell.Basis.values:
        raise InvalidInput(
            "Unknown cohort basis.",
            fields={"basis": [f"one of {', '.join(CohortCell.Basis.values)}"]},
        )
    return Query(workspace, period, granularity, filters, today, as_of, str(basis))
