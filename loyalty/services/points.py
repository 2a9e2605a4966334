"""Points changed by a person or an integration: adjustments."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from config.errors import field_errors
from contacts.models import Contact
from loyalty.models import EntryKind, LedgerEntry, SourceKind
from loyalty.services.checks import Errors, text, unknown, whole
from loyalty.services.ledger import MAX_POINTS, balance_lock, entry_append
from workspaces.services import Actor, audit_record


def actor_source(actor: Actor) -> tuple[str, str]:
    """The ledger's source for a write a person or key asked for."""
    if actor.user is not None:
        return SourceKind.USER, str(actor.user.pk)
    if actor.api_key is not None:
        return SourceKind.API_KEY, str(actor.api_key.pk)
    return SourceKind.SYSTEM, actor.system or "system"


def idempotency_key_check(value: Any, errors: Errors) -> str | None:
    # Stored with a prefix of its use (adjust:, redeem:), so it never meets the
    # ledger's own keys (event:<id>, order:<id>:reverse:<contact>).
    return text(value, "idempotency_key", errors, limit=150, required=True)


@transaction.atomic
def points_adjust(
    *, contact: Contact, data: dict[str, Any], actor: Actor
) -> tuple[LedgerEntry, bool]:
    """Add (positive) or take (negative) points by hand, with a reason. The same
    idempotency key adjusts once: a retry returns the first entry and False."""
    errors: Errors = {}
    unknown(data, ("points", "reason", "idempotency_key"), errors)
    points = whole(data.get("points"), "points", errors, low=-MAX_POINTS, high=MAX_POINTS)
    if points == 0:
        errors["points"] = ["must not be 0"]
    reason = text(data.get("reason"), "reason", errors, limit=500, required=True)
    key = idempotency_key_check(data.get("idempotency_key"), errors)
    if errors:
        raise field_errors(errors)
    assert points is not None and reason is not None and key is not None
    source_kind, source_id = actor_source(actor)
    balance = balance_lock(workspace_id=contact.workspace_id, contact_id=contact.pk)
    posted = entry_append(
        balance=balance,
        kind=EntryKind.ADJUST,
        points=points,
        idempotency_key=f"adjust:{key}",
        source_kind=source_kind,
        source_id=source_id,
        reason=reason,
    )
    if posted.created:
        audit_record(
            workspace=contact.workspace,
            action="loyalty.points_adjusted",
            actor=actor,
            object_type="contact",
            object_id=contact.pk,
            details={"points": points, "entry": posted.entry.pk},
        )
    return posted.entry, posted.created
