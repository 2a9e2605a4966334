"""What a compiled rule is evaluated for: the contacts in scope (everyone, an id range
of a sweep, or the ids whose data just changed) and the workspace and moment."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.db.models import F, Q

from contacts.rules.sql import Sql
from workspaces.models import Workspace

if TYPE_CHECKING:
    from contacts.rules.joins import SummaryJoins


@dataclass(frozen=True)
class Scope:
    """Which contacts a compiled rule is asked about: all of the workspace's, an id
    range (a sweep chunk), or a list of ids."""

    low: int | None = None
    high: int | None = None
    ids: tuple[int, ...] | None = None

    @classmethod
    def everyone(cls) -> Scope:
        return cls()

    @classmethod
    def between(cls, low: int, high: int) -> Scope:
        return cls(low=low, high=high)

    @classmethod
    def of(cls, ids: Sequence[int]) -> Scope:
        return cls(ids=tuple(sorted(set(ids))))

    @cached_property
    def ids_array(self) -> str:
        """The ids as one array literal (`'{1,2,3}'`, for `%s::bigint[]`), built once.
        A batch of thousands of contacts appears in every sub-query of a rule, and
        psycopg quotes a list parameter element by element each time it appears (~1 s
        for 20,000 ids in a stage statement's 32 places); a string it quotes at once."""
        return "{" + ",".join(map(str, self.ids or ())) + "}"

    def limit(self, column: str = "contact_id") -> Q:
        if self.ids is not None:
            # One array parameter, not one per id.
            return Q(Sql("{0} = ANY(%s::bigint[])", F(column), params=(self.ids_array,)))
        condition = Q()
        if self.low is not None:
            condition &= Q(**{f"{column}__gte": self.low})
        if self.high is not None:
            condition &= Q(**{f"{column}__lte": self.high})
        return condition


@dataclass
class Context:
    """`as_of`: evaluate at a past `now` from what had happened by then. Every event,
    purchase and revenue condition reads the raw events with occurred_at <= now
    (never the EventSummary table, which summarises all events, including later
    ones); contacts' own fields, attributes, stages and engagement are read as they
    are (there is no history of them). The caller limits contacts to those signed
    up by `now` (`contacts_matching` does).

    `summary_joins`: read the event summaries through joins the caller adds
    (contacts.rules.joins) instead of one hashed sub-query per condition."""

    workspace: Workspace
    now: dt.datetime
    scope: Scope
    as_of: bool = False
    segments: list[int] = field(default_factory=list)
    nodes: int = 0  # compiled so far, segment references expanded
    segment_rules: dict[int, Any] = field(default_factory=dict)
    summary_joins: SummaryJoins | None = None

    def days_ago(self, days: int) -> dt.datetime:
        return self.now - dt.timedelta(days=days)
