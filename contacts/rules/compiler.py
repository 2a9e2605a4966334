"""Compiling a rule to one SQL predicate on contacts (a Django Q).

Every leaf is NULL-free (true or false, never unknown), so `not` means what a
marketer expects: contacts without a `plan` attribute are in `not plan = pro`.

Conditions on other tables are `id IN (SELECT contact_id FROM ...)` sub-queries that
do not refer to the outer row. PostgreSQL runs each one once and probes a hash of its
result, also inside CASE and OR, which is what makes a sweep over a million contacts
cheap. Each sub-query is limited to the contacts being evaluated (the scope): a sweep
chunk's id range, or the few ids of contacts whose data just changed, so the same
compiled rule answers "which contacts match" and "does this contact match" at the
cost of the contacts it is asked about."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Max, Min, Q, QuerySet, Sum
from django.db.models.fields.json import KeyTransform
from django.utils import timezone

from config.errors import InvalidInput
from contacts.models import Contact, Event, EventSummary, Segment
from contacts.rules.registry import CONDITIONS, FIELDS
from contacts.rules.sql import FALSE, TRUE, Sql
from contacts.rules.validation import (
    MAX_EXPANDED_NODES,
    MAX_SEGMENT_DEPTH,
    expansion_limit_reason,
    parse_moment,
    validate_rule,
)
from workspaces.models import Workspace


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

    def limit(self, column: str = "contact_id") -> Q:
        if self.ids is not None:
            # One array parameter, not one per id: a batch of thousands of contacts
            # appears in every sub-query of the rule.
            return Q(Sql("{0} = ANY(%s::bigint[])", F(column), params=(list(self.ids),)))
        condition = Q()
        if self.low is not None:
            condition &= Q(**{f"{column}__gte": self.low})
        if self.high is not None:
            condition &= Q(**{f"{column}__lte": self.high})
        return condition


@dataclass
class Context:
    workspace: Workspace
    now: dt.datetime
    scope: Scope
    segments: list[int] = field(default_factory=list)
    nodes: int = 0  # compiled so far, segment references expanded
    segment_rules: dict[int, Any] = field(default_factory=dict)

    def days_ago(self, days: int) -> dt.datetime:
        return self.now - dt.timedelta(days=days)


def contact_in(queryset: QuerySet[Any]) -> Q:
    """Contacts whose id the sub-query (of contact_id values) returns."""
    return Q(pk__in=queryset.values("contact_id"))


# -- comparisons ------------------------------------------------------------------------

_LOOKUP = {"eq": "exact", "gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte"}


def compare(value: Any, cmp: dict[str, Any]) -> bool:
    """Does a number satisfy {"gte": 2, "lt": 5}? (Python side, for zero counts.)"""
    checks = {
        "eq": value == cmp.get("eq"),
        "neq": value != cmp.get("neq"),
        "gt": "gt" in cmp and value > cmp["gt"],
        "gte": "gte" in cmp and value >= cmp["gte"],
        "lt": "lt" in cmp and value < cmp["lt"],
        "lte": "lte" in cmp and value <= cmp["lte"],
    }
    return all(checks[key] for key in cmp)


def cmp_q(column: str, cmp: dict[str, Any]) -> Q:
    """The comparison as a Q on a (non-null) column or aggregate alias."""
    condition = Q()
    for key, number in cmp.items():
        if key == "neq":
            condition &= ~Q(**{column: number})
        else:
            condition &= Q(**{f"{column}__{_LOOKUP[key]}": number})
    return condition


def _count_condition(
    rows_passing: QuerySet[Any], rows_failing: QuerySet[Any], cmp: dict[str, Any]
) -> Q:
    """A comparison on a per-contact aggregate. Contacts with no rows have the value 0:
    when 0 passes, the contacts that match are those NOT among the ones that fail."""
    if compare(0, cmp):
        return ~contact_in(rows_failing)
    return contact_in(rows_passing)


# -- fields and attributes ----------------------------------------------------------------


def text_field_q(column: str, op: str, value: Any, *, lower: bool = False) -> Q:
    expression = F(column)
    if op == "exists":
        present = Sql("COALESCE({0} <> '', false)", expression)
        return Q(present) if value is not False else ~Q(present)
    if op == "in":
        values = [v.lower() for v in value] if lower else list(value)
        return Q(Sql("COALESCE({0} = ANY(%s), false)", expression, params=(values,)))
    if op in ("eq", "neq"):
        equal = Sql(
            "COALESCE({0} = %s, false)", expression, params=(value.lower() if lower else value,)
        )
        return Q(equal) if op == "eq" else ~Q(equal)
    if op == "contains":
        return Q(
            Sql("COALESCE(strpos(lower({0}), lower(%s)) > 0, false)", expression, params=(value,))
        )
    if op == "starts_with":
        return Q(
            Sql("COALESCE(starts_with(lower({0}), lower(%s)), false)", expression, params=(value,))
        )
    raise ValueError(op)


def number_q(expression: Any, op: str, value: Any) -> Q:
    sql_op = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
    if op == "exists":
        present = Sql("{0} IS NOT NULL", expression)
        return Q(present) if value is not False else ~Q(present)
    if op == "in":
        return Q(
            Sql(
                "COALESCE({0} = ANY(%s::numeric[]), false)",
                expression,
                params=([Decimal(str(v)) for v in value],),
            )
        )
    if op == "neq":
        return ~Q(Sql("COALESCE({0} = %s, false)", expression, params=(Decimal(str(value)),)))
    return Q(
        Sql(f"COALESCE({{0}} {sql_op[op]} %s, false)", expression, params=(Decimal(str(value)),))
    )


def moment_q(expression: Any, op: str, value: Any, context: Context) -> Q:
    """Date conditions on a timestamptz expression (which may be NULL)."""
    if op == "exists":
        present = Sql("{0} IS NOT NULL", expression)
        return Q(present) if value is not False else ~Q(present)
    if op == "before":
        return Q(Sql("COALESCE({0} < %s, false)", expression, params=(parse_moment(value),)))
    if op == "after":
        return Q(Sql("COALESCE({0} > %s, false)", expression, params=(parse_moment(value),)))
    if op == "within_last_days":
        return Q(
            Sql(
                "COALESCE({0} BETWEEN %s AND %s, false)",
                expression,
                params=(context.days_ago(value), context.now),
            )
        )
    if op == "more_than_days_ago":
        return Q(Sql("COALESCE({0} < %s, false)", expression, params=(context.days_ago(value),)))
    raise ValueError(op)


def json_value_q(value_expression: Any, op: str, value: Any, context: Context) -> Q:
    """A condition on one JSON value (an attribute, or an event property), by its JSON
    type: numbers compare as numbers, strings as text, dates are ISO strings."""
    v = value_expression
    if op == "exists":
        present = Sql("{0} IS NOT NULL AND jsonb_typeof({0}) <> 'null'", v, v)
        return Q(present) if value is not False else ~Q(present)
    if op in ("is_true", "is_false"):
        return Q(Sql("COALESCE({0} = %s::jsonb, false)", v, params=(json.dumps(op == "is_true"),)))
    if op in ("eq", "neq"):
        equal = Sql("COALESCE({0} = %s::jsonb, false)", v, params=(json.dumps(value),))
        return Q(equal) if op == "eq" else ~Q(equal)
    if op == "in":
        return Q(
            Sql(
                "COALESCE({0} = ANY(%s::jsonb[]), false)",
                v,
                params=([json.dumps(item) for item in value],),
            )
        )
    if op == "contains":
        return Q(
            Sql(
                "COALESCE(CASE jsonb_typeof({0}) "
                "WHEN 'string' THEN strpos(lower({1} #>> '{}'), lower(%s)) > 0 "
                "WHEN 'array' THEN {2} @> %s::jsonb ELSE false END, false)",
                v,
                v,
                v,
                params=(value, json.dumps([value])),
            )
        )
    if op == "starts_with":
        return Q(
            Sql(
                "COALESCE(jsonb_typeof({0}) = 'string' "
                "AND starts_with(lower({1} #>> '{}'), lower(%s)), false)",
                v,
                v,
                params=(value,),
            )
        )
    if op in ("gt", "gte", "lt", "lte"):
        sql_op = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
        return Q(
            Sql(
                f"COALESCE(CASE WHEN jsonb_typeof({{0}}) = 'number' "
                f"THEN ({{1}} #>> '{{}}')::numeric {sql_op} %s END, false)",
                v,
                v,
                params=(Decimal(str(value)),),
            )
        )
    # Dates: ISO strings, read with a cast that yields NULL instead of failing.
    moment = Sql(
        "CASE WHEN jsonb_typeof({0}) = 'string' THEN stagecraft_try_timestamptz({1} #>> '{}') END",
        v,
        v,
    )
    return moment_q(moment, op, value, context)


# -- the walk -----------------------------------------------------------------------------


class RuleTooLarge(InvalidInput):
    """A rule over the expansion bounds (a segment it uses grew since it was saved,
    or it was saved before the bounds existed): refused rather than run."""


def compile_node(node: dict[str, Any], context: Context) -> Q:
    context.nodes += 1
    if context.nodes > MAX_EXPANDED_NODES:
        reason = expansion_limit_reason()
        raise RuleTooLarge(f"rule: {reason}", fields={"rule": [reason]})
    if "all" in node:
        condition = Q(TRUE)
        for child in node["all"]:
            condition &= compile_node(child, context)
        return condition
    if "any" in node:
        children = node["any"]
        if not children:
            return Q(FALSE)
        condition = compile_node(children[0], context)
        for child in children[1:]:
            condition |= compile_node(child, context)
        return condition
    if "not" in node:
        return ~compile_node(node["not"], context)
    if "field" in node:
        return FIELDS[node["field"]].compile(node["op"], node.get("value"), context)
    if "attr" in node:
        return json_value_q(
            KeyTransform(node["attr"], "attributes"), node["op"], node.get("value"), context
        )
    if "event" in node:
        return _event_q(node, context)
    if "revenue" in node:
        return _purchase_q(node, context, measure="revenue")
    if "purchases" in node:
        return _purchase_q(node, context, measure="purchases")
    if "segment" in node:
        return _segment_q(node["segment"], context)
    key = next(k for k in node if k in CONDITIONS)
    return CONDITIONS[key].compile(node, context)


def _window(queryset: QuerySet[Event], node: dict[str, Any], context: Context) -> QuerySet[Event]:
    if "within_days" in node:
        queryset = queryset.filter(occurred_at__gte=context.days_ago(node["within_days"]))
    if "between" in node:
        start, end = (parse_moment(b) for b in node["between"])
        queryset = queryset.filter(occurred_at__gte=start, occurred_at__lt=end)
    return queryset


def _recency_q(column: str, recency: dict[str, int], context: Context) -> Q:
    ((kind, days),) = recency.items()
    if kind == "older_than_days":
        return Q(**{f"{column}__lt": context.days_ago(days)})
    return Q(**{f"{column}__gte": context.days_ago(days)})


def _event_q(node: dict[str, Any], context: Context) -> Q:
    """count, first and last of a named event, from the summaries when no window or
    property filter applies, else from the raw events."""
    cmp = node.get("count", {"gte": 1})
    recency = Q()
    for key, column in (("first", "first_at"), ("last", "last_at")):
        if key in node:
            recency &= _recency_q(column, node[key], context)
    needs_events = any(key in node for key in ("within_days", "between", "where"))
    if not needs_events:
        summaries = EventSummary.objects.filter(
            context.scope.limit(), workspace=context.workspace, name=node["event"]
        )
        if recency:
            return contact_in(summaries.filter(cmp_q("count", cmp) & recency))
        return _count_condition(
            summaries.filter(cmp_q("count", cmp)), summaries.filter(~cmp_q("count", cmp)), cmp
        )
    events = _window(
        Event.objects.filter(
            context.scope.limit(), workspace=context.workspace, name=node["event"]
        ),
        node,
        context,
    )
    for condition in node.get("where", []):
        events = events.filter(
            json_value_q(
                KeyTransform(condition["property"], "properties"),
                condition["op"],
                condition.get("value"),
                context,
            )
        )
    grouped = events.values("contact_id").annotate(
        n=Count("contact_id"), first_at=Min("occurred_at"), last_at=Max("occurred_at")
    )
    if recency:
        return contact_in(grouped.filter(cmp_q("n", cmp) & recency))
    return _count_condition(grouped.filter(cmp_q("n", cmp)), grouped.filter(~cmp_q("n", cmp)), cmp)


def _purchase_q(node: dict[str, Any], context: Context, *, measure: str) -> Q:
    """Revenue summed, or purchases counted, over the workspace's purchase events
    (events with one of its purchase names that carry revenue)."""
    cmp = node[measure]
    names = context.workspace.purchase_event_names
    rows: QuerySet[Any]
    total: Sum | Count
    if "within_days" not in node and "between" not in node:
        rows = EventSummary.objects.filter(
            context.scope.limit(), workspace=context.workspace, name__in=names, revenue_count__gt=0
        )
        total = Sum("revenue") if measure == "revenue" else Sum("revenue_count")
    else:
        rows = _window(
            Event.objects.filter(
                context.scope.limit(),
                workspace=context.workspace,
                name__in=names,
                revenue__isnull=False,
            ),
            node,
            context,
        )
        total = Sum("revenue") if measure == "revenue" else Count("contact_id")
    grouped = rows.values("contact_id").annotate(total=total)
    return _count_condition(
        grouped.filter(cmp_q("total", cmp)), grouped.filter(~cmp_q("total", cmp)), cmp
    )


def _segment_q(segment_id: int, context: Context) -> Q:
    if segment_id in context.segments:
        raise ValueError(f"segment {segment_id} includes itself")
    if len(context.segments) >= MAX_SEGMENT_DEPTH:
        reason = f"segments may use other segments at most {MAX_SEGMENT_DEPTH} levels deep"
        raise RuleTooLarge(f"rule: {reason}", fields={"rule": [reason]})
    if segment_id not in context.segment_rules:
        context.segment_rules[segment_id] = (
            Segment.objects.filter(workspace=context.workspace, pk=segment_id)
            .values_list("rule", flat=True)
            .first()
        )
    rule = context.segment_rules[segment_id]
    if rule is None:
        return Q(FALSE)
    context.segments.append(segment_id)
    try:
        return compile_node(rule, context)
    finally:
        context.segments.pop()


# -- entry points ---------------------------------------------------------------------


def compile_rule(
    rule: dict[str, Any],
    *,
    workspace: Workspace,
    now: dt.datetime | None = None,
    scope: Scope | None = None,
) -> Q:
    """The rule as a Q on Contact (the caller also filters by workspace and scope)."""
    return compile_node(
        rule,
        Context(workspace=workspace, now=now or timezone.now(), scope=scope or Scope.everyone()),
    )


def contacts_matching(
    rule: dict[str, Any],
    *,
    workspace: Workspace,
    now: dt.datetime | None = None,
    scope: Scope | None = None,
    validate: bool = True,
) -> QuerySet[Contact]:
    """The workspace's contacts that match (within the scope, if given)."""
    if validate:
        validate_rule(rule, workspace=workspace)
    scope = scope or Scope.everyone()
    return Contact.objects.filter(scope.limit("pk"), workspace=workspace).filter(
        compile_rule(rule, workspace=workspace, now=now, scope=scope)
    )


def matching_ids(
    rule: dict[str, Any],
    *,
    workspace: Workspace,
    contact_ids: Sequence[int],
    now: dt.datetime | None = None,
) -> set[int]:
    """Which of these contacts match: the point question, asked for a batch."""
    if not contact_ids:
        return set()
    queryset = contacts_matching(
        rule, workspace=workspace, now=now, scope=Scope.of(contact_ids), validate=False
    )
    return set(queryset.values_list("pk", flat=True))


def contact_matches(
    rule: dict[str, Any], *, contact: Contact, now: dt.datetime | None = None
) -> bool:
    return contact.pk in matching_ids(
        rule, workspace=contact.workspace, contact_ids=[contact.pk], now=now
    )
