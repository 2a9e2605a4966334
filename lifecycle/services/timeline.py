"""Compiling stage rules for a contact's timeline: the rule at every moment of its life.

The stage engine (evaluation.py) answers "which stage is each contact in now". A
replay asks it for every moment at which the answer could change, so the rules are
compiled here to SQL over a timeline of rows per contact, ordered by time: the
contact's events (`probe = false`) and the moments to evaluate at (`probe = true`).
Each event condition becomes a window aggregate over the rows up to the probe:

    {"purchases": {"gte": 4}}          count(*) FILTER (purchase with revenue) OVER cum
    {"event": "purchase",              max(t) FILTER (name = 'purchase') OVER cum
     "last": {"within_days": 60}}        >= t - 60 days
    {"event": "page_view",             count(*) FILTER (name = 'page_view')
     "count": {"gte": 5},                OVER (RANGE 30 days PRECEDING) >= 5
     "within_days": 30}

`cum` is every row up to and including the probe's moment (RANGE ... CURRENT ROW takes
the rows at the same moment too), which is exactly "the events that had happened by
then" with the engine's `>=`/`<` boundaries. Conditions that have no history (contact
fields, attributes, consent, engagement, predicted values, the stage itself) are read
as they are now, once per contact, with the engine's own compiler: a replay takes a
contact's current attributes as having held all along (docs/rules.md).

The moments where a result can change are the events the rules name, and each of
those events plus every time window N the rules apply to it (plus one microsecond:
at exactly t + N days the event still counts, as it does for the engine)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import BooleanField, ExpressionWrapper, Q
from django.db.models.fields.json import KeyTransform

from contacts.models import Segment
from contacts.rules import Context, Scope
from contacts.rules.compiler import compile_node
from contacts.rules.predicates import json_value_q
from contacts.rules.validation import MAX_SEGMENT_DEPTH
from contacts.rules.values import parse_moment
from workspaces.models import Workspace

_CMP_SQL = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
DAY_SECONDS = 86_400


@dataclass
class Timeline:
    """What a set of rules needs from a timeline, filled in while compiling them."""

    workspace: Workspace
    now: dt.datetime
    scope: Scope
    params: dict[str, Any] = field(default_factory=dict)
    # (aggregate, filter SQL, frame seconds or None) -> column name
    aggregates: dict[tuple[str, str, int | None], str] = field(default_factory=dict)
    # event filters on properties ("where"): column name -> Q on Event
    event_filters: dict[str, Q] = field(default_factory=dict)
    # conditions read as they are now: column name -> Q on Contact
    static: dict[str, Q] = field(default_factory=dict)
    # event names the rules read, and the windows (seconds) each name is read through
    names: set[str] = field(default_factory=set)
    windows: dict[int, set[str]] = field(default_factory=dict)
    _segments: list[int] = field(default_factory=list)

    def param(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"%({name})s"

    # -- the walk ----------------------------------------------------------------------

    def compile(self, node: dict[str, Any]) -> str:
        """The node as a NULL-free SQL boolean over the columns of `agg` and `people`."""
        if "all" in node:
            return "(" + " AND ".join([self.compile(c) for c in node["all"]] or ["true"]) + ")"
        if "any" in node:
            return "(" + " OR ".join([self.compile(c) for c in node["any"]] or ["false"]) + ")"
        if "not" in node:
            return f"(NOT {self.compile(node['not'])})"
        if "event" in node:
            return self._event(node)
        if "revenue" in node or "purchases" in node:
            return self._purchases(node)
        if "segment" in node:
            return self._segment(node["segment"])
        return self._static(node)

    def _static(self, node: dict[str, Any]) -> str:
        name = f"s{len(self.static)}"
        context = Context(workspace=self.workspace, now=self.now, scope=self.scope)
        self.static[name] = compile_node(node, context)
        return f"p.{name}"

    def _segment(self, segment_id: int) -> str:
        if segment_id in self._segments or len(self._segments) >= MAX_SEGMENT_DEPTH:
            return "false"
        rule = (
            Segment.objects.filter(workspace=self.workspace, pk=segment_id)
            .values_list("rule", flat=True)
            .first()
        )
        if rule is None:
            return "false"
        self._segments.append(segment_id)
        try:
            return self.compile(rule)
        finally:
            self._segments.pop()

    def _aggregate(self, kind: str, condition: str, frame: int | None) -> str:
        key = (kind, condition, frame)
        if key not in self.aggregates:
            self.aggregates[key] = f"a{len(self.aggregates)}"
        return f"a.{self.aggregates[key]}"

    def _frame(self, node: dict[str, Any], names: list[str]) -> tuple[int | None, str]:
        """The window of a condition (seconds, or None for all time up to the probe),
        and its condition on the row's time for a fixed `between`."""
        self.names.update(names)
        if "within_days" in node:
            seconds = int(node["within_days"]) * DAY_SECONDS
            self.windows.setdefault(seconds, set()).update(names)
            return seconds, ""
        if "between" in node:
            start, end = (parse_moment(b) for b in node["between"])
            return None, f" AND tl.t >= {self.param(start)} AND tl.t < {self.param(end)}"
        return None, ""

    def _event(self, node: dict[str, Any]) -> str:
        name = node["event"]
        frame, between = self._frame(node, [name])
        condition = f"tl.name = {self.param(name)}{between}"
        for where in node.get("where", []):
            column = f"w{len(self.event_filters)}"
            context = Context(workspace=self.workspace, now=self.now, scope=self.scope)
            self.event_filters[column] = json_value_q(
                KeyTransform(where["property"], "properties"),
                where["op"],
                where.get("value"),
                context,
            )
            condition += f" AND tl.{column}"
        count = self._aggregate("count", condition, frame)
        parts = [self._cmp(count, node.get("count", {"gte": 1}))]
        recency = False
        for key, aggregate in (("first", "min"), ("last", "max")):
            if key not in node:
                continue
            recency = True
            ((kind, days),) = node[key].items()
            seconds = int(days) * DAY_SECONDS
            self.windows.setdefault(seconds, set()).add(name)
            moment = self._aggregate(aggregate, condition, frame)
            op = "<" if kind == "older_than_days" else ">="
            parts.append(f"COALESCE({moment} {op} a.t - {_interval(seconds)}, false)")
        if recency:
            # As the engine: a recency test needs at least one such event.
            parts.append(f"{count} > 0")
        return "(" + " AND ".join(parts) + ")"

    def _purchases(self, node: dict[str, Any]) -> str:
        measure = "revenue" if "revenue" in node else "purchases"
        names = list(self.workspace.purchase_event_names)
        frame, between = self._frame(node, names)
        condition = f"tl.name = ANY({self.param(names)}) AND tl.revenue IS NOT NULL{between}"
        if measure == "revenue":
            total = f"COALESCE({self._aggregate('sum', condition, frame)}, 0)"
        else:
            total = self._aggregate("count", condition, frame)
        return self._cmp(total, node[measure])

    def _cmp(self, expression: str, cmp: dict[str, Any]) -> str:
        parts = [
            f"{expression} {_CMP_SQL[key]} {self.param(Decimal(str(value)))}"
            for key, value in cmp.items()
        ]
        return "COALESCE(" + " AND ".join(parts or ["true"]) + ", false)"

    # -- the pieces of the statement ------------------------------------------------------

    def aggregate_columns(self, *, based: bool = False) -> str:
        """The aggregates over the timeline up to each row. `based`: the timeline holds
        only the events from each contact's `since` on, and `b.<name>` (base_columns)
        what the events before it contribute, the same at every moment from `since` to
        now (no event leaves a window in between: current.py checks it)."""
        columns = []
        for (kind, condition, frame), name in self.aggregates.items():
            value = "tl.revenue" if kind == "sum" else "tl.t" if kind in ("min", "max") else "*"
            over = "cum" if frame is None else _range(frame)
            aggregate = f"{kind}({value}) FILTER (WHERE {condition}) OVER {over}"
            if based:
                aggregate = _combined(kind, f"b.{name}", aggregate)
            columns.append(f"{aggregate} AS {name}")
        return ",\n       ".join(columns)

    def base_columns(self) -> str:
        """What the events before `s.since` (rows `tl`) contribute to each aggregate at
        `since`: all of them to a cumulative one, those within its window (counted at
        `since`) to a windowed one."""
        columns = []
        for (kind, condition, frame), name in self.aggregates.items():
            value = "tl.revenue" if kind == "sum" else "tl.t" if kind in ("min", "max") else "*"
            within = "" if frame is None else f" AND tl.t >= s.since - {_interval(frame)}"
            columns.append(f"{kind}({value}) FILTER (WHERE {condition}{within}) AS {name}")
        return ",\n       ".join(columns)

    def event_filter_annotations(self) -> dict[str, ExpressionWrapper]:
        return {
            column: ExpressionWrapper(q, output_field=BooleanField())
            for column, q in self.event_filters.items()
        }

    def static_annotations(self) -> dict[str, ExpressionWrapper]:
        return {
            column: ExpressionWrapper(q, output_field=BooleanField())
            for column, q in self.static.items()
        }


def _combined(kind: str, base: str, window: str) -> str:
    """An aggregate of two parts (NULL: no rows in that part)."""
    if kind == "count":
        return f"({base} + {window})"
    if kind == "min":
        return f"LEAST({base}, {window})"  # LEAST and GREATEST skip NULLs
    if kind == "max":
        return f"GREATEST({base}, {window})"
    return f"(CASE WHEN {base} IS NULL THEN {window} ELSE {base} + coalesce({window}, 0) END)"


def _interval(seconds: int) -> str:
    # Whole seconds, not days: a day is 24 hours here as in the engine (timedelta),
    # whatever the session's time zone does to calendar days.
    return f"interval '{int(seconds)} seconds'"


def _range(seconds: int) -> str:
    return (
        f"(PARTITION BY tl.contact_id ORDER BY tl.t "
        f"RANGE BETWEEN {_interval(seconds)} PRECEDING AND CURRENT ROW)"
    )
