"""Every writer of the rollups takes the rows shared by many contacts in one order
(docs/rules.md "One lock order for every writer"): two writers taking two of them the
other way round deadlock under load. The facts refresh once wrote the cohort cells
before the flows by group and the cover, an erasure the other way round; this test
reads the order each writer's statements write the shared tables in."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from analytics.rollups import on_contacts_refreshed, on_moves_removed
from contacts.models import Contact
from contacts.services import events_ingest
from contacts.services.erasure import contact_erase
from lifecycle.hooks import transitions_dispatch
from lifecycle.models import Cause, StageTransition
from lifecycle.services import marked_contacts_evaluate, stages_create_defaults
from tests.factories import ContactFactory
from workspaces.services import Actor

pytestmark = pytest.mark.django_db

# The shared tables, in the order every writer takes them.
ORDER = [
    "stageflowday",
    "stageflowgroupday",
    "staylength",
    "conversionday",
    "churncover",
    "staygroupcount",
    "cohortcell",
    "acquisitionday",
    "activeday",
    "activegroupday",
    "orderday",
    "ordergroupday",
    "answergroupday",
]
_WRITE = re.compile(r"(?:INSERT INTO|UPDATE|DELETE FROM)\s+\"?analytics_(\w+?)\"?\s", re.I)


def _shared_writes(queries: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for query in queries:
        for table in _WRITE.findall(query["sql"]):
            if table in ORDER and (not found or found[-1] != table):
                found.append(table)
    return found


def _in_order(writes: list[str]) -> bool:
    positions = [ORDER.index(table) for table in writes]
    return positions == sorted(positions)


def _world(ws: Any) -> list[Contact]:
    stages_create_defaults(workspace=ws)
    now = dt.datetime.now(dt.UTC)
    people = [
        ContactFactory.create(
            workspace=ws,
            email=f"p{i}@example.com",
            signed_up_at=now - dt.timedelta(days=40 + i),
            attributes={"signup_source": "ads"},
        )
        for i in range(3)
    ]
    items = [
        {
            "contact": {"email": person.email},
            "name": name,
            "revenue": revenue,
            "occurred_at": (now - dt.timedelta(days=days)).isoformat(),
        }
        for person in people
        for name, revenue, days in (("page_view", None, 30), ("purchase", "20.00", 20))
    ]
    assert not events_ingest(workspace=ws, items=items).errors
    while marked_contacts_evaluate():
        pass
    while transitions_dispatch():
        pass
    return people


def test_every_writer_takes_the_shared_rows_in_one_order(ws: Any) -> None:
    a, b, c = _world(ws)
    seen: dict[str, list[str]] = {}

    # the facts refresh of a contact whose source changed (its moves change group) and
    # whose first purchase moved earlier (its stays' cover changes)
    Contact.objects.filter(pk=a.pk).update(attributes={"signup_source": "fair"})
    earlier = (dt.datetime.now(dt.UTC) - dt.timedelta(days=35)).isoformat()
    purchase = {"contact": {"id": a.pk}, "name": "purchase", "revenue": "5.00"}
    assert not events_ingest(workspace=ws, items=[{**purchase, "occurred_at": earlier}]).errors
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        on_contacts_refreshed([a.pk])
    seen["refresh"] = _shared_writes(queries.captured_queries)

    # a dispatch of a new move
    last = StageTransition.objects.filter(contact=b).order_by("-at", "-id").first()
    assert last is not None
    StageTransition.objects.create(
        workspace=ws,
        contact=b,
        from_stage=last.to_stage,
        to_stage=last.from_stage or last.to_stage,
        at=dt.datetime.now(dt.UTC),
        cause=Cause.RULE,
        rule_version=1,
    )
    with CaptureQueriesContext(connection) as queries:
        while transitions_dispatch():
            pass
    seen["dispatch"] = _shared_writes(queries.captured_queries)

    # a replay taking a counted move out
    move = StageTransition.objects.filter(contact=b, notified_at__isnull=False).first()
    assert move is not None
    removed = (move.pk, b.pk, move.from_stage_id, move.to_stage_id, move.at, move.notified_at)
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        on_moves_removed(ws.pk, [b.pk], [removed])
    seen["take_out"] = _shared_writes(queries.captured_queries)

    # an erasure
    with CaptureQueriesContext(connection) as queries:
        contact_erase(contact=c, actor=Actor(system="test"))
    seen["erasure"] = _shared_writes(queries.captured_queries)

    # each writer wrote what makes the order matter, in the one order
    refresh = {"stageflowgroupday", "churncover", "staygroupcount", "cohortcell"}
    refresh |= {"activegroupday", "ordergroupday"}
    assert refresh <= set(seen["refresh"]), seen
    assert {"stageflowday", "stageflowgroupday", "staylength"} <= set(seen["dispatch"]), seen
    assert {"stageflowday", "stageflowgroupday"} <= set(seen["take_out"]), seen
    assert {"stageflowday", "stageflowgroupday", "cohortcell", "ordergroupday"} <= set(
        seen["erasure"]
    ), seen
    assert all(_in_order(writes) for writes in seen.values()), seen
