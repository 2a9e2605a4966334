"""The loyalty benchmark's data set is one the product could have left behind
(bench/loyalty_data.py): every balance is its ledger's sum, and the daily tier review
moves nobody, so the ingest benchmark's earning meets members in their tiers rather
than a backlog of promotions that earning would pay off on the first purchase."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum

from bench.common import copy_contacts
from bench.loyalty_data import build_ledger, build_programme_figures
from loyalty.models import ContactTier, LedgerEntry, PointsBalance
from loyalty.services import programme_update
from loyalty.services.tiers_review import tiers_review
from workspaces.services import Actor

pytestmark = pytest.mark.django_db

MEMBERS = 40


def test_the_bench_ledger_is_a_steady_state(ws: Any) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    programme_update(workspace=ws, data={"enabled": True}, actor=Actor(system="test"))
    with connection.cursor() as cursor:
        first, _ = copy_contacts(
            cursor,
            workspace_id=ws.pk,
            count=MEMBERS,
            rng=random.Random(1),
            now=now,
            attributes=lambda i: {},
        )
        build_ledger(
            cursor, workspace_id=ws.pk, first_id=first, members=MEMBERS, entries=400, now=now
        )
        build_programme_figures(
            cursor,
            workspace_id=ws.pk,
            first_id=first,
            members=MEMBERS,
            referrals=4,
            referrers=2,
            customer_share=60,
            now=now,
        )

    sums = dict(
        LedgerEntry.objects.filter(workspace=ws)
        .values_list("contact_id")
        .annotate(total=Sum("points"))
        .values_list("contact_id", "total")
    )
    balances = dict(PointsBalance.objects.filter(workspace=ws).values_list("contact_id", "balance"))
    assert len(balances) == MEMBERS and balances == sums
    last = {e.contact_id: e for e in LedgerEntry.objects.filter(workspace=ws).order_by("id")}
    assert all(last[c].balance_after == balances[c] for c in balances)

    # Consecutive ids: four of each last digit, so the shares are exact.
    held = Counter(ContactTier.objects.filter(workspace=ws).values_list("tier__name", flat=True))
    assert held == {None: 16, "Silver": 12, "Gold": 8, "Platinum": 4}
    assert tiers_review(workspace_id=ws.pk, now=now) == 0
    # Still true days later, when the oldest entries have left the window.
    assert tiers_review(workspace_id=ws.pk, now=now + dt.timedelta(days=20)) == 0
