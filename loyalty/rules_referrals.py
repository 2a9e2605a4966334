"""Referrals in the rule language, so "advocate" can mean "two converted referrals this
year":

    {"referrals_converted": {"gte": 2}, "within_days": 365}
    {"referrals_sent": {"gte": 1}}

`referrals_sent` counts the contact's referrals (friends who signed up with its code),
rejected ones aside, by when they signed up; `referrals_converted` those that
converted and were not rejected or reversed, by when they converted. A contact with
none counts 0, so {"lt": 1} matches it. Compiled to one grouped sub-query."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q

from contacts.rules import ConditionSpec, Context, register_condition
from contacts.rules.due import MICROSECOND, DueContext, days, register_due
from contacts.rules.predicates import cmp_q, compare
from loyalty.models import Referral, ReferralStatus
from loyalty.rules import CMP_SYMBOLS

OPS = ("eq", "gt", "gte", "lt", "lte")
MAX_DAYS = 3650
MAX_COUNT = 1_000_000


def _validate(node: dict[str, Any], here: str, validator: Any) -> None:
    cmp = next(iter(node.values()))
    if not isinstance(cmp, dict) or not cmp or any(key not in OPS for key in cmp):
        validator.error(here, f'must be a comparison such as {{"gte": 2}} ({", ".join(OPS)})')
    else:
        for key, value in cmp.items():
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
                validator.error(f"{here}.{key}", f"a whole number from 0 to {MAX_COUNT}")
    days = node.get("within_days")
    if "within_days" in node and (
        isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS
    ):
        validator.error(f"{here}.within_days", f"a whole number of days from 1 to {MAX_DAYS}")


def _rows(converted: bool, context: Context) -> Any:
    rows = Referral.objects.filter(context.scope.limit("referrer_id"), workspace=context.workspace)
    if converted:
        return rows.filter(converted_at__isnull=False).exclude(
            status__in=[ReferralStatus.REJECTED, ReferralStatus.REVERSED]
        )
    return rows.exclude(status=ReferralStatus.REJECTED)


def _due(converted: bool) -> Any:
    def due(node: dict[str, Any], context: DueContext) -> None:
        """Each referral counts until just after its moment + the window."""
        if "within_days" in node:
            column = "converted_at" if converted else "created_at"
            rows = _rows(converted, context.rule_context()).values_list("referrer_id", column)
            context.add_shifted(rows, [days(node["within_days"]) + MICROSECOND])

    return due


def _compiler(converted: bool) -> Any:
    def compile_(node: dict[str, Any], context: Context) -> Q:
        key = "referrals_converted" if converted else "referrals_sent"
        cmp = node[key]
        column = "converted_at" if converted else "created_at"
        rows = Referral.objects.filter(
            context.scope.limit("referrer_id"), workspace=context.workspace
        )
        if converted:
            rows = rows.filter(converted_at__isnull=False).exclude(
                status__in=[ReferralStatus.REJECTED, ReferralStatus.REVERSED]
            )
        else:
            rows = rows.exclude(status=ReferralStatus.REJECTED)
        if context.as_of:
            rows = rows.filter(**{f"{column}__lte": context.now})
        if "within_days" in node:
            rows = rows.filter(**{f"{column}__gte": context.days_ago(node["within_days"])})
        counted = rows.order_by().values("referrer_id").annotate(n=Count("*"))
        if compare(0, cmp):
            return ~Q(pk__in=counted.exclude(cmp_q("n", cmp)).values("referrer_id"))
        return Q(pk__in=counted.filter(cmp_q("n", cmp)).values("referrer_id"))

    return compile_


def _describe(node: dict[str, Any]) -> str:
    key = next(iter(node))
    cmp = node[key]
    parts = " and ".join(f"{CMP_SYMBOLS.get(op, op)} {value}" for op, value in cmp.items())
    what = "converted referrals" if key == "referrals_converted" else "referrals sent"
    window = f" in the last {node['within_days']} days" if "within_days" in node else ""
    return f"{what} {parts}{window}"


def register_referral_conditions() -> None:
    for key, converted in (("referrals_sent", False), ("referrals_converted", True)):
        register_due(key, _due(converted))
        register_condition(
            ConditionSpec(
                key, frozenset({key, "within_days"}), _validate, _compiler(converted), _describe
            )
        )
