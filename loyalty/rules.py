"""Points in the rule language, read from each contact's balance row, e.g. "big
spenders of points": {"field": "points_balance", "op": "gte", "value": 1000}. A contact
that never had points has a balance of 0 (and no row): a condition 0 satisfies
matches it too; `exists` asks whether the contact ever had a ledger entry."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import F, Q

from contacts.rules import Context, FieldSpec, register_field
from contacts.rules.predicates import contact_in, number_q
from loyalty.models import PointsBalance


def zero_satisfies(op: str, value: Any) -> bool:
    """Does a balance of 0 satisfy the condition? (Python side, for contacts without a
    balance row.)"""
    if op == "in":
        return any(Decimal(str(v)) == 0 for v in value)
    number = Decimal(str(value))
    return {
        "eq": number == 0,
        "neq": number != 0,
        "gt": number < 0,
        "gte": number <= 0,
        "lt": number > 0,
        "lte": number >= 0,
    }[op]


def _points(column: str) -> Any:
    def compile_(op: str, value: Any, context: Context) -> Q:
        rows = PointsBalance.objects.filter(context.scope.limit(), workspace=context.workspace)
        if op == "exists":
            return contact_in(rows) if value is not False else ~contact_in(rows)
        matching = contact_in(rows.filter(number_q(F(column), op, value)))
        return matching | ~contact_in(rows) if zero_satisfies(op, value) else matching

    return compile_


def register_loyalty_fields() -> None:
    register_field(
        FieldSpec("points_balance", "number", "Loyalty points balance", _points("balance"))
    )
    register_field(
        FieldSpec(
            "points_earned",
            "number",
            "Loyalty points earned, net of refunds (all time)",
            _points("earned_total"),
        )
    )
