"""An order's points taken back on request (`POST /loyalty/orders/{id}/reverse/`): what
the order earned, less what refunds already took."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from config.errors import NotFound, field_errors
from loyalty.models import EntryKind, LedgerEntry, SourceKind
from loyalty.services.checks import Errors, text, unknown
from loyalty.services.earning import MAX_ORDER_ID, order_standing
from loyalty.services.ledger import balance_lock, entry_append
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record


@transaction.atomic
def order_reverse(
    *, workspace: Workspace, order_id: str, data: dict[str, Any], actor: Actor
) -> tuple[list[LedgerEntry], bool]:
    """Take back the rest of what the order earned; asked again, it takes nothing more
    and returns the first reversal with False. A balance already spent gives what is
    left (never below zero); the rest is recorded as `uncollected`."""
    errors: Errors = {}
    unknown(data, ("reason",), errors)
    reason = text(data.get("reason", ""), "reason", errors, limit=500, required=False)
    if errors:
        raise field_errors(errors)
    if not order_id or len(order_id) > MAX_ORDER_ID:
        raise NotFound("No points were earned for this order.")
    contact_ids = sorted(
        set(
            LedgerEntry.objects.filter(
                workspace=workspace, order_id=order_id, kind=EntryKind.EARN
            ).values_list("contact_id", flat=True)
        )
    )
    if not contact_ids:
        raise NotFound("No points were earned for this order.")
    entries: list[LedgerEntry] = []
    created = False
    for contact_id in contact_ids:
        balance = balance_lock(workspace_id=workspace.pk, contact_id=contact_id)
        earned, taken, _, _ = order_standing(
            workspace_id=workspace.pk, contact_id=contact_id, order_id=order_id
        )
        posted = entry_append(
            balance=balance,
            kind=EntryKind.REVERSE,
            points=-max(earned - taken, 0),
            idempotency_key=f"order:{order_id}:reverse:{contact_id}",
            source_kind=SourceKind.ORDER,
            source_id=order_id,
            reason=reason or f"order {order_id} reversed",
            order_id=order_id,
            clamp=True,
        )
        entries.append(posted.entry)
        created = created or posted.created
    if created:
        audit_record(
            workspace=workspace,
            action="loyalty.order_reversed",
            actor=actor,
            object_type="loyalty_order",
            details={"order_id": order_id, "points": sum(e.points for e in entries)},
        )
    return entries, created
