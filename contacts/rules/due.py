"""Due moments: for each contact, the earliest moment after `now` at which time alone
could change what a set of rules says of it, given its data as it is.

Each time-based leaf of a rule contributes candidate moments, as rows (contact_id, m)
of one SQL query per leaf; a contact's due moment is the least candidate after `now`
(docs/rules.md, "Due moments", has the argument that nothing can change before it):

    {"event": "purchase", "last": {"older_than_days": 90}}   last_at + 90 days + 1 µs
    {"event": "page_view", "count": {"gte": 5},               5th most recent page view
     "within_days": 30}                                          in the window + 30 days + 1 µs
    {"attr": "renewal", "op": "within_last_days", "value": 7} the date, the date + 7 days + 1 µs

A candidate may be earlier than needed (the contact is evaluated and nothing moves),
never later. Conditions of later apps teach it their moments with `register_due`; a
time-based one that has not (a relative date operator or `within_days` on it) makes
every contact in scope due after `fallback`, as the periodic sweep used to."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.db.models.fields.json import KeyTransform

from contacts.models import Contact, Event, EventSummary, Segment
from contacts.rules.context import Context, Scope
from contacts.rules.predicates import json_value_q
from contacts.rules.validation import MAX_SEGMENT_DEPTH
from contacts.rules.values import parse_moment
from workspaces.models import Workspace

MICROSECOND = dt.timedelta(microseconds=1)
RELATIVE_OPS = frozenset({"within_last_days", "more_than_days_ago"})


@dataclass
class DueContext:
    """What the walk collects: SQL queries of (contact_id, m) rows, each limited to the
    workspace and the scope."""

    workspace: Workspace
    now: dt.datetime
    scope: Scope
    fallback: dt.timedelta
    parts: list[tuple[str, list[Any]]] = field(default_factory=list)
    segments: list[int] = field(default_factory=list)

    def rule_context(self) -> Context:
        return Context(workspace=self.workspace, now=self.now, scope=self.scope)

    def add(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.parts.append((sql, list(params)))

    def add_shifted(self, rows: QuerySet[Any], shifts: Sequence[dt.timedelta]) -> None:
        """Candidates `x + shift` for each row (contact_id, x) of the queryset (x may be
        NULL: no candidate)."""
        sql, params = rows.query.sql_with_params()
        for shift in shifts:
            self.add(
                f"SELECT s.contact_id, s.x + %s AS m FROM ({sql}) s(contact_id, x)",
                [shift, *params],
            )

    def everyone_after_fallback(self) -> None:
        rows = Contact.objects.filter(self.scope.limit("pk"), workspace=self.workspace)
        sql, params = rows.values("pk").query.sql_with_params()
        self.add(
            f"SELECT s.id AS contact_id, %s::timestamptz AS m FROM ({sql}) s",
            [
                self.now + self.fallback,
                *params,
            ],
        )


# Functions (node, context) adding the candidates of a field ("field:<name>") or of a
# condition (its key) that later apps registered.
DUE: dict[str, Callable[[dict[str, Any], DueContext], None]] = {}


def register_due(key: str, function: Callable[[dict[str, Any], DueContext], None]) -> None:
    DUE[key] = function


def days(value: Any) -> dt.timedelta:
    return dt.timedelta(days=float(value))


def relative_shifts(op: str, value: Any) -> list[dt.timedelta]:
    """When `x` compared with a relative date operator can change: `within_last_days N`
    (x between now - N days and now) turns true at x and false just after x + N days;
    `more_than_days_ago N` (x before now - N days) turns true just after x + N days."""
    if op == "within_last_days":
        return [dt.timedelta(0), days(value) + MICROSECOND]
    if op == "more_than_days_ago":
        return [days(value) + MICROSECOND]
    return []


def age_shifts(op: str, value: Any) -> list[dt.timedelta]:
    """When an age in days since `x` ((now - x) / 1 day) compared with values can
    change: at x + v days and just after, for each value v."""
    if op == "exists":
        return []
    values = value if op == "in" else [value]
    return [days(v) + extra for v in values for extra in (dt.timedelta(0), MICROSECOND)]


def count_breakpoints(cmp: dict[str, Any]) -> list[int]:
    """The counts b >= 1 at which a comparison's result can differ between b and b - 1
    (a superset): `gte 5` → 5, `gt 5` → 6, `eq 3` → 3 and 4."""
    points: set[int] = set()
    for key, value in cmp.items():
        number = float(value)
        if key in ("gte", "lt"):
            points.add(math.ceil(number))
        elif key in ("gt", "lte"):
            points.add(math.floor(number) + 1)
        else:  # eq, neq
            points.update({math.ceil(number), math.floor(number) + 1})
    return sorted((p for p in points if p >= 1), reverse=True)


# -- the walk ---------------------------------------------------------------------------


def walk(node: dict[str, Any], context: DueContext) -> None:
    if "all" in node or "any" in node:
        _combination(node, context)
        return
    if "not" in node:
        walk(node["not"], context)  # a negation changes exactly when its operand does
        return
    if "field" in node:
        function = DUE.get(f"field:{node['field']}")
        if function is not None:
            function(node, context)
        elif node.get("op") in RELATIVE_OPS:
            context.everyone_after_fallback()
        return
    if "attr" in node:
        if node["op"] in RELATIVE_OPS:
            rows = Contact.objects.filter(
                context.scope.limit("pk"), workspace=context.workspace
            ).values_list("pk", KeyTransform(node["attr"], "attributes"))
            sql, params = rows.query.sql_with_params()
            moment = (
                "CASE WHEN jsonb_typeof(s.v) = 'string' "
                "THEN stagecraft_try_timestamptz(s.v #>> '{}') END"
            )
            for shift in relative_shifts(node["op"], node["value"]):
                context.add(
                    f"SELECT s.id AS contact_id, {moment} + %s AS m FROM ({sql}) s(id, v)",
                    [shift, *params],
                )
        return
    if "event" in node:
        _event(node, context)
        return
    if "revenue" in node or "purchases" in node:
        _purchases(node, context)
        return
    if "segment" in node:
        _segment(node["segment"], context)
        return
    key = next((k for k in node if k in DUE), None)
    if key is not None:
        DUE[key](node, context)
    elif "within_days" in node:
        context.everyone_after_fallback()


def _combination(node: dict[str, Any], context: DueContext) -> None:
    """`all` / `any`: the candidates of the children that have some. A child with none
    keeps its result until the contact's data changes (which marks it): while one is
    false under `all` (true under `any`), time cannot change the combination, so the
    timed children's candidates count only for contacts where every such child is true
    (false)."""
    conjunction = "all" in node
    children = node["all"] if conjunction else node["any"]
    timed: list[tuple[str, list[Any]]] = []
    fixed = []
    for child in children:
        inner = DueContext(
            workspace=context.workspace,
            now=context.now,
            scope=context.scope,
            fallback=context.fallback,
            segments=list(context.segments),
        )
        walk(child, inner)
        if inner.parts:
            timed.extend(inner.parts)
        else:
            fixed.append(child)
    if not timed:
        return
    if not fixed:
        context.parts.extend(timed)
        return
    from contacts.rules.compiler import compile_node  # noqa: PLC0415 (compiler imports us)

    holds = compile_node({"all": fixed} if conjunction else {"any": fixed}, context.rule_context())
    if not conjunction:
        holds = ~holds
    # Those whose fixed children leave the combination open to time.
    open_ids = Contact.objects.filter(
        holds, context.scope.limit("pk"), workspace=context.workspace
    ).values("pk")
    sql, params = open_ids.query.sql_with_params()
    for part, part_params in timed:
        context.add(
            f"SELECT t.contact_id, t.m FROM ({part}) t WHERE t.contact_id IN ({sql})",
            [*part_params, *params],
        )


def _events(context: DueContext, names: Sequence[str]) -> QuerySet[Event]:
    return Event.objects.filter(
        context.scope.limit(), workspace=context.workspace, name__in=list(names)
    )


def _windowed(events: QuerySet[Event], node: dict[str, Any], context: DueContext) -> Any:
    if "within_days" in node:
        events = events.filter(occurred_at__gte=context.now - days(node["within_days"]))
    if "between" in node:
        start, end = (parse_moment(b) for b in node["between"])
        events = events.filter(occurred_at__gte=start, occurred_at__lt=end)
    return events


def _window_counts(events: QuerySet[Event], cmp: dict[str, Any], window: dt.timedelta) -> Any:
    """A count of events in a window only falls with time, by one as each event leaves
    (just after its time + the window). From count c, the result next changes when the
    count falls below the largest breakpoint b <= c: when the b-th most recent leaves."""
    points = count_breakpoints(cmp)
    if not points:
        return None
    position = " ".join(f"WHEN count(*) >= {b} THEN {b}" for b in points)
    sql, params = events.order_by().values("contact_id", "occurred_at").query.sql_with_params()
    return (
        f"SELECT e.contact_id, (array_agg(e.occurred_at ORDER BY e.occurred_at DESC))"
        f"[CASE {position} END] + %s AS m FROM ({sql}) e GROUP BY e.contact_id",
        [window + MICROSECOND, *params],
    )


def _aggregate_shift(events: QuerySet[Event], aggregate: str, shift: dt.timedelta) -> Any:
    sql, params = events.order_by().values("contact_id", "occurred_at").query.sql_with_params()
    return (
        f"SELECT e.contact_id, {aggregate}(e.occurred_at) + %s AS m "
        f"FROM ({sql}) e GROUP BY e.contact_id",
        [shift, *params],
    )


def _event(node: dict[str, Any], context: DueContext) -> None:
    recency = [
        ("min" if key == "first" else "max", days(next(iter(node[key].values()))))
        for key in ("first", "last")
        if key in node
    ]
    if not any(key in node for key in ("within_days", "between", "where")):
        # From the summaries: only first/last move with time.
        summaries = EventSummary.objects.filter(
            context.scope.limit(), workspace=context.workspace, name=node["event"]
        )
        for aggregate, age in recency:
            column = "first_at" if aggregate == "min" else "last_at"
            context.add_shifted(summaries.values_list("contact_id", column), [age + MICROSECOND])
        return
    events = _windowed(_events(context, [node["event"]]), node, context)
    for where in node.get("where", []):
        if where["op"] in RELATIVE_OPS:
            # Which events pass this filter changes with time: at each event's own
            # moments (every event in the window, whatever the other filters say).
            value = KeyTransform(where["property"], "properties")
            rows = events.values_list("contact_id", value)
            sql, params = rows.query.sql_with_params()
            moment = (
                "CASE WHEN jsonb_typeof(s.v) = 'string' "
                "THEN stagecraft_try_timestamptz(s.v #>> '{}') END"
            )
            for shift in relative_shifts(where["op"], where["value"]):
                context.add(
                    f"SELECT s.contact_id, {moment} + %s AS m FROM ({sql}) s(contact_id, v)",
                    [shift, *params],
                )
    rule_context = context.rule_context()
    for where in node.get("where", []):
        value = KeyTransform(where["property"], "properties")
        events = events.filter(json_value_q(value, where["op"], where.get("value"), rule_context))
    if "within_days" in node:
        window = days(node["within_days"])
        if recency:
            # first/last within the window move as the oldest event leaves it.
            context.add(*_aggregate_shift(events, "min", window + MICROSECOND))
        else:
            counted = _window_counts(events, node.get("count", {"gte": 1}), window)
            if counted is not None:
                context.add(*counted)
    for aggregate, age in recency:
        context.add(*_aggregate_shift(events, aggregate, age + MICROSECOND))


def _purchases(node: dict[str, Any], context: DueContext) -> None:
    if "within_days" not in node:
        return  # lifetime or a fixed `between`: time alone changes nothing
    window = days(node["within_days"])
    events = _windowed(
        _events(context, context.workspace.purchase_event_names).filter(revenue__isnull=False),
        node,
        context,
    )
    if "purchases" in node:
        counted = _window_counts(events, node["purchases"], window)
        if counted is not None:
            context.add(*counted)
    else:
        # A sum changes as each purchase leaves the window; the oldest leaves first.
        context.add(*_aggregate_shift(events, "min", window + MICROSECOND))


def _segment(segment_id: int, context: DueContext) -> None:
    if segment_id in context.segments or len(context.segments) >= MAX_SEGMENT_DEPTH:
        return
    rule = (
        Segment.objects.filter(workspace=context.workspace, pk=segment_id)
        .values_list("rule", flat=True)
        .first()
    )
    if rule is None:
        return
    context.segments.append(segment_id)
    try:
        walk(rule, context)
    finally:
        context.segments.pop()


# -- entry point ------------------------------------------------------------------------


def due_candidates(
    rules: Sequence[dict[str, Any]],
    *,
    workspace: Workspace,
    now: dt.datetime,
    scope: Scope,
    fallback: dt.timedelta = dt.timedelta(minutes=15),
) -> tuple[str, list[Any]] | None:
    """One SQL query of rows (contact_id, m): the moments at which time alone could
    change any of the rules' results for the contacts in scope (some may be past or
    NULL: the caller keeps the least one after `now`). None when no rule has any."""
    context = DueContext(workspace=workspace, now=now, scope=scope, fallback=fallback)
    for rule in rules:
        walk(rule, context)
    if not context.parts:
        return None
    sql = "\nUNION ALL\n".join(part for part, _ in context.parts)
    params = [param for _, part_params in context.parts for param in part_params]
    return sql, params


def _contact_moment(column: str) -> Callable[[dict[str, Any], DueContext], None]:
    def due(node: dict[str, Any], context: DueContext) -> None:
        rows = Contact.objects.filter(
            context.scope.limit("pk"), workspace=context.workspace
        ).values_list("pk", column)
        context.add_shifted(rows, relative_shifts(node["op"], node.get("value")))

    return due


def register_contact_due() -> None:
    """The contact's own date fields; later apps register theirs from ready()."""
    for column in ("created_at", "updated_at"):
        register_due(f"field:{column}", _contact_moment(column))
