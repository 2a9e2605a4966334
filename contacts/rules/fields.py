"""The contact's own fields in the rule language."""

from __future__ import annotations

from typing import Any

from django.db.models import F, Q

from contacts.models import EmailStatus, SmsStatus
from contacts.rules.context import Context
from contacts.rules.predicates import moment_q, text_field_q
from contacts.rules.registry import FieldSpec, register_field


def _text(column: str, *, lower: bool = False) -> Any:
    def compile_text(op: str, value: Any, context: Context) -> Q:
        return text_field_q(column, op, value, lower=lower)

    return compile_text


def _choice(column: str) -> Any:
    def compile_choice(op: str, value: Any, context: Context) -> Q:
        return text_field_q(column, op, value)

    return compile_choice


def _moment(column: str) -> Any:
    def compile_moment(op: str, value: Any, context: Context) -> Q:
        return moment_q(F(column), op, value, context)

    return compile_moment


# The fields read from the contact's own row: a change to one always marks the
# contact (contacts/services/segment_members.py tells them from later apps' fields).
CONTACT_FIELD_NAMES = frozenset(
    {
        "email",
        "phone",
        "external_id",
        "first_name",
        "last_name",
        "time_zone",
        "locale",
        "email_status",
        "sms_status",
        "created_at",
        "updated_at",
    }
)


def register_contact_fields() -> None:
    for name, label, lower in (
        ("email", "Email", True),
        ("phone", "Phone", False),
        ("external_id", "External id", False),
        ("first_name", "First name", False),
        ("last_name", "Last name", False),
        ("time_zone", "Time zone", False),
        ("locale", "Locale", False),
    ):
        register_field(FieldSpec(name, "text", label, _text(name, lower=lower), contact_row=True))
    register_field(
        FieldSpec(
            "email_status",
            "choice",
            "Email status",
            _choice("email_status"),
            choices=lambda workspace: list(EmailStatus.values),
            contact_row=True,
        )
    )
    register_field(
        FieldSpec(
            "sms_status",
            "choice",
            "SMS status",
            _choice("sms_status"),
            choices=lambda workspace: list(SmsStatus.values),
            contact_row=True,
        )
    )
    for name, label in (("created_at", "Created"), ("updated_at", "Updated")):
        register_field(FieldSpec(name, "datetime", label, _moment(name), contact_row=True))
