"""Which ingested events are urgent for the loyalty programmes
(contacts.hooks.MARK_URGENCY): the events that earn points while the programme is on
(purchases and those named in `event_points`), and a referral's qualifying event
while referrals are on, so that points and a referral's conversion follow an order
within seconds even while ingest queues a backlog of other news."""

from __future__ import annotations

from typing import Any

from contacts.hooks import urgency_memo, urgent_names
from loyalty.models import Programme, ReferralSettings
from workspaces.models import Workspace


def loyalty_event_names(workspace: Workspace) -> set[str]:
    names: set[str] = set()
    programme = Programme.objects.filter(workspace=workspace, enabled=True).first()
    if programme is not None:
        names |= set(workspace.purchase_event_names) | set(programme.event_points or {})
    referrals = ReferralSettings.objects.filter(workspace=workspace, enabled=True).first()
    if referrals is not None:
        names |= (
            {referrals.qualifying_event}
            if referrals.qualifying_event
            else set(workspace.purchase_event_names)
        )
    return names


@urgency_memo
def loyalty_news_urgency(workspace: Workspace) -> tuple[str, dict[str, Any]] | None:
    return urgent_names("loyalty_names", loyalty_event_names(workspace))
