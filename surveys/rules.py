"""Survey answers in the rule language, read from each contact's latest counted answers
(ContactSurveyFacts), e.g. the advocate stage "promoters who bought in 90 days":
{"all": [{"field": "nps_category", "op": "eq", "value": "promoter"},
         {"event": "purchase", "within_days": 90}]}
and "answered a survey within 30 days": {"field": "survey_answered_at",
"op": "within_last_days", "value": 30}."""

from __future__ import annotations

from typing import Any

from django.db.models import F, Q

from contacts.rules import Context, FieldSpec, register_field
from contacts.rules.due import DueContext, age_shifts, register_due, relative_shifts
from contacts.rules.predicates import contact_in, moment_q, number_q
from contacts.rules.sql import Sql
from surveys.models import Category, ContactSurveyFacts

CATEGORIES = [Category.PROMOTER.value, Category.PASSIVE.value, Category.DETRACTOR.value]


def _facts(context: Context, **filters: Any) -> Any:
    return ContactSurveyFacts.objects.filter(
        context.scope.limit(), workspace=context.workspace, **filters
    )


def _number(column: str) -> Any:
    def compile_(op: str, value: Any, context: Context) -> Q:
        rows = _facts(context, **{f"{column}__isnull": False})
        if op == "exists":
            return contact_in(rows) if value is not False else ~contact_in(rows)
        if op == "neq":
            return ~contact_in(rows.filter(number_q(F(column), "eq", value)))
        return contact_in(rows.filter(number_q(F(column), op, value)))

    return compile_


def _category(op: str, value: Any, context: Context) -> Q:
    values = list(value) if op == "in" else [value]
    matches = contact_in(_facts(context, nps_category__in=values))
    return ~matches if op == "neq" else matches


def _answered_at(op: str, value: Any, context: Context) -> Q:
    rows = _facts(context, last_answered_at__isnull=False)
    if op == "exists":
        return contact_in(rows) if value is not False else ~contact_in(rows)
    return contact_in(rows.filter(moment_q(F("last_answered_at"), op, value, context)))


def _days_since(op: str, value: Any, context: Context) -> Q:
    days = Sql(
        "extract(epoch from (%s - {0})) / 86400", F("last_answered_at"), params=(context.now,)
    )
    rows = _facts(context, last_answered_at__isnull=False)
    if op == "exists":
        return contact_in(rows) if value is not False else ~contact_in(rows)
    if op == "neq":
        return ~contact_in(rows.filter(number_q(days, "eq", value)))
    return contact_in(rows.filter(number_q(days, op, value)))


def _due(shifts: Any) -> Any:
    def due(node: dict[str, Any], context: DueContext) -> None:
        rows = _facts(context.rule_context(), last_answered_at__isnull=False)
        context.add_shifted(
            rows.values_list("contact_id", "last_answered_at"),
            shifts(node["op"], node.get("value")),
        )

    return due


def register_survey_fields() -> None:
    register_due("field:survey_answered_at", _due(relative_shifts))
    register_due("field:days_since_survey_answered", _due(age_shifts))
    register_field(FieldSpec("nps_score", "number", "Last NPS score (0-10)", _number("nps_score")))
    register_field(
        FieldSpec(
            "nps_category",
            "choice",
            "NPS category (promoter, passive, detractor)",
            _category,
            choices=lambda workspace: list(CATEGORIES),
        )
    )
    register_field(
        FieldSpec("csat_score", "number", "Last CSAT score (1-5)", _number("csat_score"))
    )
    register_field(
        FieldSpec("survey_answered_at", "datetime", "Last survey answered", _answered_at)
    )
    register_field(
        FieldSpec(
            "days_since_survey_answered", "number", "Days since a survey was answered", _days_since
        )
    )
