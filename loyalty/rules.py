"""Points in the rule language, read from each contact's balance row, e.g. "big
spenders of points": {"field": "points_balance", "op": "gte", "value": 1000}. A contact
that never had points has a balance of 0 (and no row): a condition 0 satisfies
matches it too; `exists` asks whether the contact ever had a ledger entry.

`tier` is the contact's tier now, by name ({"field": "tier", "op": "eq", "value":
"Gold"}; `neq` matches contacts below every tier too). Points earned in a window are a node of
their own, read from the ledger (earn entries net of reversals, by when they
happened): {"points_earned": {"gte": 500}, "within_days": 90}."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import F, Q, Sum

from contacts.rules import (
    ConditionSpec,
    Context,
    FieldSpec,
    register_catalog_extra,
    register_condition,
    register_field,
)
from contacts.rules.due import MICROSECOND, DueContext, days, register_due
from contacts.rules.predicates import cmp_q, compare, contact_in, number_q
from loyalty.models import ContactTier, EntryKind, LedgerEntry, PointsBalance, Tier
from workspaces.models import Workspace

CMP_OPS = ("eq", "gt", "gte", "lt", "lte")
# How a comparison reads in a rule's description (as contacts/rules/describe.py writes
# its own): "points earned ≥ 500".
CMP_SYMBOLS = {"eq": "=", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}
MAX_DAYS = 3650
MAX_POINTS = 10**12


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


def _tier_names(workspace: Workspace | None) -> list[str]:
    if workspace is None:
        return []
    return list(
        Tier.objects.filter(workspace=workspace)
        .order_by("threshold")
        .values_list("name", flat=True)
    )


def _tier(op: str, value: Any, context: Context) -> Q:
    rows = ContactTier.objects.filter(
        context.scope.limit(), workspace=context.workspace, tier__isnull=False
    )
    names = list(value) if op == "in" else [value]
    matches = contact_in(rows.filter(tier__name__in=names))
    return ~matches if op == "neq" else matches


def _earned_validate(node: dict[str, Any], here: str, validator: Any) -> None:
    cmp = node["points_earned"]
    if not isinstance(cmp, dict) or not cmp or any(key not in CMP_OPS for key in cmp):
        validator.error(here, f'must be a comparison such as {{"gte": 500}} ({", ".join(CMP_OPS)})')
    else:
        for key, value in cmp.items():
            if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_POINTS:
                validator.error(f"{here}.{key}", "a whole number of points")
    days = node.get("within_days")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        validator.error(f"{here}.within_days", f"a whole number of days from 1 to {MAX_DAYS}")


def _earned_compile(node: dict[str, Any], context: Context) -> Q:
    cmp = node["points_earned"]
    rows = LedgerEntry.objects.filter(
        context.scope.limit(),
        workspace=context.workspace,
        kind__in=[EntryKind.EARN, EntryKind.REVERSE],
        occurred_at__gte=context.days_ago(node["within_days"]),
    )
    if context.as_of:
        rows = rows.filter(occurred_at__lte=context.now)
    summed = rows.order_by().values("contact_id").annotate(n=Sum("points"))
    # Contacts without entries in the window earned 0.
    if compare(0, cmp):
        return ~contact_in(summed.exclude(cmp_q("n", cmp)))
    return contact_in(summed.filter(cmp_q("n", cmp)))


def _earned_describe(node: dict[str, Any]) -> str:
    parts = " and ".join(
        f"{CMP_SYMBOLS.get(op, op)} {value}" for op, value in node["points_earned"].items()
    )
    return f"loyalty points earned {parts} in the last {node['within_days']} days"


def loyalty_rule_catalog(workspace: Workspace) -> dict[str, Any]:
    """The counts the rule builder offers as conditions of their own (its catalog's
    `counts`): points earned in the last N days, referrals sent and converted."""
    return {
        "counts": [
            {
                "key": "points_earned",
                "label": "Loyalty points earned",
                "unit": "points",
                "window": "required",
                "max_days": MAX_DAYS,
                "ops": list(CMP_OPS),
            },
            {
                "key": "referrals_sent",
                "label": "Referrals sent",
                "unit": "friends signed up",
                "window": "optional",
                "max_days": MAX_DAYS,
                "ops": list(CMP_OPS),
            },
            {
                "key": "referrals_converted",
                "label": "Referrals converted",
                "unit": "friends bought",
                "window": "optional",
                "max_days": MAX_DAYS,
                "ops": list(CMP_OPS),
            },
        ]
    }


def _earned_due(node: dict[str, Any], context: DueContext) -> None:
    """Each entry counts until just after its moment + the window (a superset)."""
    rows = LedgerEntry.objects.filter(
        context.scope.limit(),
        workspace=context.workspace,
        kind__in=[EntryKind.EARN, EntryKind.REVERSE],
        occurred_at__gte=context.now - days(node["within_days"]),
    )
    context.add_shifted(
        rows.values_list("contact_id", "occurred_at"), [days(node["within_days"]) + MICROSECOND]
    )


def register_loyalty_fields() -> None:
    register_catalog_extra(loyalty_rule_catalog)
    register_due("points_earned", _earned_due)
    register_field(FieldSpec("tier", "choice", "Loyalty tier", _tier, choices=_tier_names))
    register_condition(
        ConditionSpec(
            "points_earned",
            frozenset({"points_earned", "within_days"}),
            _earned_validate,
            _earned_compile,
            _earned_describe,
        )
    )
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
