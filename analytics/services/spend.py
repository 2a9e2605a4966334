"""Acquisition spend per source and month, entered by the marketer, for CAC."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from analytics.cache import figures_changed
from analytics.models import Spend
from config.errors import InvalidInput
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record

MONTH = re.compile(r"^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])$")


def _clean(data: dict[str, Any]) -> tuple[str, dt.date, Decimal]:
    errors: dict[str, list[str]] = {
        key: ["unknown field"] for key in data if key not in ("source", "month", "amount")
    }
    source = data.get("source")
    if not isinstance(source, str) or not source.strip() or len(source) > 200:
        errors["source"] = ["a name of up to 200 characters"]
    month = None
    raw_month = data.get("month")
    if isinstance(raw_month, str) and MONTH.match(raw_month):
        month = dt.date.fromisoformat(f"{raw_month}-01")
    if month is None:
        errors["month"] = ["must be YYYY-MM"]
    amount = None
    raw_amount = data.get("amount")
    try:
        if isinstance(raw_amount, str | int) and not isinstance(raw_amount, bool):
            amount = Decimal(str(raw_amount).strip())
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        errors["amount"] = ["a non-negative amount, e.g. 1250.00"]
    elif amount.as_tuple().exponent < -2:  # type: ignore[operator]
        errors["amount"] = ["at most two decimal places"]
    if errors:
        raise InvalidInput("The spend is not valid.", fields=errors)
    assert isinstance(source, str) and month is not None and amount is not None
    return source.strip(), month, amount.quantize(Decimal("0.01"))


def spend_set(*, workspace: Workspace, data: dict[str, Any], actor: Actor) -> tuple[Spend, bool]:
    """Set the spend of a source in a month (replacing what was there); (row, created)."""
    source, month, amount = _clean(data)
    spend, created = Spend.objects.update_or_create(
        workspace=workspace,
        source=source,
        month=month,
        defaults={"amount": amount, "updated_at": timezone.now()},
    )
    audit_record(
        workspace=workspace,
        actor=actor,
        action="analytics.spend_set",
        object_type="spend",
        object_id=spend.pk,
        details={"source": source, "month": month.isoformat()[:7], "amount": str(amount)},
    )
    figures_changed(workspace_id=workspace.pk)
    return spend, created


def spend_delete(*, spend: Spend, actor: Actor) -> None:
    audit_record(
        workspace=spend.workspace,
        actor=actor,
        action="analytics.spend_deleted",
        object_type="spend",
        object_id=spend.pk,
        details={"source": spend.source, "month": spend.month.isoformat()[:7]},
    )
    spend.delete()
    figures_changed(workspace_id=spend.workspace_id)
