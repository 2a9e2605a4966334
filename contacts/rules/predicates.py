"""The SQL predicates a rule's leaves compile to, each NULL-free (true or false,
never unknown): comparisons of text, numbers, moments and JSON values, and counts."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.db.models import F, Q, QuerySet

from contacts.rules.context import Context
from contacts.rules.sql import Sql
from contacts.rules.values import parse_moment


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


def count_condition(
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
