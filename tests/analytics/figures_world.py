"""The small hand-built world every analytics figure is checked in (see
test_figures_*.py), and the raw rows read back from it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from analytics.figures.common import Filters
from analytics.models import Spend
from contacts.models import Contact, Event, Segment
from lifecycle.models import Cause, Stage, StageTransition
from tests.analytics.reference_base import (
    rows,
)
from tests.analytics.reference_customers import RawCustomers
from tests.factories import (
    ContactFactory,
    ContactStageFactory,
    EventFactory,
    StageTransitionFactory,
)
from workspaces.models import Workspace


@dataclass
class Raw(RawCustomers):
    """The raw rows of one workspace and the figures' definitions over them."""

    @classmethod
    def load(cls, ws: Workspace) -> Raw:
        return cls(
            ws=ws,
            stage_key={s.pk: s.key for s in Stage.objects.filter(workspace=ws)},
            contacts={
                c["id"]: dict(c)
                for c in Contact.objects.filter(workspace=ws).values(
                    "id", "signed_up_at", "attributes"
                )
            },
            events=rows(
                Event.objects.filter(workspace=ws).values(
                    "contact_id", "name", "revenue", "occurred_at"
                )
            ),
            transitions=sorted(
                rows(
                    StageTransition.objects.filter(workspace=ws).values(
                        "id", "contact_id", "from_stage_id", "to_stage_id", "at", "notified_at"
                    )
                ),
                key=lambda t: (t["at"], t["id"]),
            ),
            spend=rows(Spend.objects.filter(workspace=ws).values("source", "month", "amount")),
        )


@dataclass
class World:
    ws: Workspace
    stages: dict[str, Stage]
    ids: dict[str, int]
    pro: Segment


# Every contact of the world was loaded into Stagecraft after the fact (created now,
# as an import would create it) with the signup date it had: every figure that says
# "signup" must read signed_up_at, never created_at.
IMPORTED_AT = dt.datetime(2024, 4, 10, 9, 0, tzinfo=dt.UTC)


def _contact(
    ws: Workspace, name: str, signed_up: dt.datetime, attributes: dict[str, str]
) -> Contact:
    return ContactFactory.create(
        workspace=ws,
        email=f"{name}@example.com",
        created_at=IMPORTED_AT,
        signed_up_at=signed_up,
        attributes=attributes,
    )


def _history(
    ws: Workspace, stages: dict[str, Stage], contact: Contact, moves: list[tuple[str, dt.datetime]]
) -> None:
    """Write a contact's moves as the engine would have (a chain of transitions) and
    leave it in the last stage."""
    previous: Stage | None = None
    for key, at in moves:
        stage = stages[key]
        StageTransitionFactory.create(
            workspace=ws,
            contact=contact,
            from_stage=previous,
            to_stage=stage,
            at=at,
            cause=Cause.RULE,
            rule_version=stage.rule_version,
        )
        previous = stage
    assert previous is not None
    ContactStageFactory.create(
        contact=contact, workspace=ws, stage=previous, entered_at=moves[-1][1]
    )


def _events(
    ws: Workspace, contact: Contact, rows: list[tuple[str, str | None, dt.datetime]]
) -> None:
    for name, revenue, at in rows:
        EventFactory.create(
            workspace=ws,
            contact=contact,
            name=name,
            revenue=Decimal(revenue) if revenue is not None else None,
            occurred_at=at,
        )


def filters_of(w: World, raw: Raw) -> list[tuple[str, Filters, set[int]]]:
    """Each filter, with the contacts an independent reading of it keeps."""
    return [
        ("none", Filters(), raw.everyone()),
        ("segment", Filters(segment=w.pro), raw.kept(plan="pro")),
        ("source", Filters(source="ads"), raw.kept(source="ads")),
        (
            "signup_month",
            Filters(signup_month=dt.date(2024, 2, 1)),
            raw.kept(month=dt.date(2024, 2, 1)),
        ),
        (
            "signup_month_mar",
            Filters(signup_month=dt.date(2024, 3, 1)),
            raw.kept(month=dt.date(2024, 3, 1)),
        ),
        (
            "source+segment",
            Filters(segment=w.pro, source="ads"),
            raw.kept(plan="pro", source="ads"),
        ),
    ]


def stripped(rows: Iterable[dict[str, Any]], keys: Iterable[str]) -> list[dict[str, Any]]:
    wanted = list(keys)
    return [{k: row[k] for k in wanted} for row in rows]


# --- the world is what it says (so the expectations below mean something) -----------
