"""The rule language: one JSON language for segments, stage entry rules, journey
triggers, goals and exits, compiled to one SQL predicate that PostgreSQL evaluates.

    {"all": [
      {"attr": "plan", "op": "eq", "value": "pro"},
      {"event": "purchase", "count": {"gte": 2}, "within_days": 90},
      {"not": {"event": "purchase", "within_days": 60}},
      {"revenue": {"gte": 100}, "within_days": 365},
      {"field": "email_status", "op": "eq", "value": "subscribed"}
    ]}

See docs/rules.md for every node and operator."""

from contacts.rules.compiler import (
    compile_rule,
    contact_matches,
    contacts_matching,
    matching_count,
    matching_ids,
)
from contacts.rules.context import Context, Scope
from contacts.rules.due import register_contact_due, register_due
from contacts.rules.fields import register_contact_fields
from contacts.rules.registry import (
    CATALOG_EXTRAS,
    CONDITIONS,
    FIELDS,
    RULE_HOLDERS,
    RULE_USERS,
    ConditionSpec,
    FieldSpec,
    register_catalog_extra,
    register_condition,
    register_field,
)
from contacts.rules.validation import (
    referenced_segments,
    rule_errors,
    segment_change_errors,
    validate_rule,
)

register_contact_fields()
register_contact_due()

__all__ = [
    "CATALOG_EXTRAS",
    "CONDITIONS",
    "FIELDS",
    "RULE_HOLDERS",
    "RULE_USERS",
    "ConditionSpec",
    "Context",
    "FieldSpec",
    "Scope",
    "compile_rule",
    "contact_matches",
    "contacts_matching",
    "matching_count",
    "matching_ids",
    "referenced_segments",
    "register_catalog_extra",
    "register_condition",
    "register_due",
    "register_field",
    "rule_errors",
    "segment_change_errors",
    "validate_rule",
]
