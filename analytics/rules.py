"""`predicted_clv`, `probability_alive` and `expected_purchases` in the rule language:
the latest applied CLV fit's predictions (contacts who never bought have none), e.g.
high-value customers at risk:
{"all": [{"field": "predicted_clv", "op": "gte", "value": 200},
         {"field": "probability_alive", "op": "lt", "value": 0.5}]}."""

from __future__ import annotations

from typing import Any

from django.db.models import F, Q

from analytics.models import CustomerFacts
from contacts.rules import Context, FieldSpec, register_field
from contacts.rules.predicates import contact_in, number_q

PREDICTED_FIELDS = {
    "predicted_clv": "Predicted CLV, next 12 months",
    "probability_alive": "Probability still a customer (0-1)",
    "expected_purchases": "Expected purchases, next 12 months",
}


def _compiler(column: str) -> Any:
    def compile_(op: str, value: Any, context: Context) -> Q:
        rows = CustomerFacts.objects.filter(
            context.scope.limit(), workspace=context.workspace, **{f"{column}__isnull": False}
        )
        if op == "exists":
            return contact_in(rows) if value is not False else ~contact_in(rows)
        if op == "neq":
            return ~contact_in(rows.filter(number_q(F(column), "eq", value)))
        return contact_in(rows.filter(number_q(F(column), op, value)))

    return compile_


def uses_predictions(rule: Any) -> bool:
    """Does this rule read a predicted field (anywhere in its tree)?"""
    if isinstance(rule, dict):
        if rule.get("field") in PREDICTED_FIELDS:
            return True
        return any(uses_predictions(value) for value in rule.values())
    if isinstance(rule, list):
        return any(uses_predictions(value) for value in rule)
    return False


def register_analytics_fields() -> None:
    for name, label in PREDICTED_FIELDS.items():
        register_field(FieldSpec(name, "number", label, _compiler(name)))
