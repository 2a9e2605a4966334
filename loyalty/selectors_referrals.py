"""Reads of the referral programme the API, the dashboard and (later) the member page
and templates share."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.urls import reverse

from contacts.models import Contact
from loyalty.models import Referral, ReferralStatus
from loyalty.services.referrals import referral_code_ensure
from workspaces.models import Workspace


def referral_link_for(*, contact: Contact) -> str | None:
    """The contact's referral link (an absolute URL on BASE_URL), its code
    made on first use; None when the contact gets no code (programme off, or not in
    the chosen stages)."""
    code = referral_code_ensure(contact=contact)
    if code is None:
        return None
    path = reverse(
        "loyalty_public:referral-landing",
        kwargs={"workspace_id": contact.workspace_id, "code": code.code},
    )
    base = settings.BASE_URL
    return f"{base}{path}"


def referral_counts(*, contact: Contact) -> dict[str, int]:
    """How many friends the contact brought: signed up, converted, paid, flagged."""
    counted = Referral.objects.filter(
        workspace_id=contact.workspace_id, referrer=contact
    ).aggregate(
        sent=Count("pk", filter=~Q(status=ReferralStatus.REJECTED)),
        converted=Count(
            "pk",
            filter=Q(converted_at__isnull=False)
            & ~Q(status__in=[ReferralStatus.REJECTED, ReferralStatus.REVERSED]),
        ),
        paid=Count("pk", filter=Q(status=ReferralStatus.PAID)),
        flagged=Count("pk", filter=Q(status=ReferralStatus.FLAGGED)),
    )
    return {key: int(value or 0) for key, value in counted.items()}


def referrals_for_workspace(
    *, workspace: Workspace, status: str | None = None, referrer_id: int | None = None
) -> QuerySet[Referral]:
    rows = Referral.objects.filter(workspace=workspace).select_related("referrer", "referred")
    if status:
        rows = rows.filter(status=status)
    if referrer_id:
        rows = rows.filter(referrer_id=referrer_id)
    return rows


def referral_get(*, workspace: Workspace, referral_id: Any) -> Referral | None:
    try:
        pk = int(referral_id)
    except (TypeError, ValueError):
        return None
    if not 0 < pk < 2**63:
        return None
    return (
        Referral.objects.filter(workspace=workspace, pk=pk)
        .select_related("referrer", "referred", "workspace")
        .first()
    )
