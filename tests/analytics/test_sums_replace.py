"""The nightly rebuild writes a table of sums again only when it differs from what the
raw rows give (analytics/rollups/replace.py `sums_replace`): after a quiet night it
writes nothing (the rows keep their ids), a sum that drifted — a count off by one, a
row missing, a row too many — is put right, and rows an increment took down to zero
neither count as a difference nor are lost."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from django.db import connection, models

from analytics.models_periods import ActiveGroupDay, StayGroupCount, StayLength
from analytics.rollups import rollups_rebuild, stay_groups_compare
from analytics.rollups.period_checks import period_sums_compare
from analytics.rollups.replace import sums_replace
from tests.analytics.test_period_rollups import _world
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db


def _ids(model: type[models.Model], ws: Workspace) -> set[int]:
    return set(model._default_manager.filter(workspace=ws).values_list("pk", flat=True))


def _exact(ws: Workspace) -> None:
    assert stay_groups_compare(workspace_id=ws.pk)[1] == 0
    assert all(differing == 0 for _, differing in period_sums_compare(workspace_id=ws.pk).values())


def test_a_quiet_night_writes_no_sum_and_a_drifted_one_is_put_right(ws: Workspace) -> None:
    _world(ws, random.Random(5))
    rollups_rebuild(workspace_id=ws.pk)
    _exact(ws)
    groups, active, lengths = (_ids(m, ws) for m in (StayGroupCount, ActiveGroupDay, StayLength))
    assert groups and active and lengths

    # A count an increment took to zero stays, and is no difference.
    zero = StayLength.objects.filter(workspace=ws).first()
    assert zero is not None
    StayLength.objects.create(
        workspace=ws, stage_id=zero.stage_id, open=True, day=zero.day, days=99_999, stays=0
    )
    rollups_rebuild(workspace_id=ws.pk)
    assert _ids(StayGroupCount, ws) == groups  # not written again
    assert _ids(ActiveGroupDay, ws) == active
    assert _ids(StayLength, ws) - lengths == {StayLength.objects.get(workspace=ws, days=99_999).pk}
    _exact(ws)

    # Drift: a count off by one, an active day lost.
    row = StayGroupCount.objects.filter(workspace=ws).order_by("pk").first()
    assert row is not None
    StayGroupCount.objects.filter(pk=row.pk).update(stays=row.stays + 1)
    ActiveGroupDay.objects.filter(pk=min(active)).delete()
    assert stay_groups_compare(workspace_id=ws.pk)[1] == 1
    rollups_rebuild(workspace_id=ws.pk)
    _exact(ws)
    assert _ids(StayGroupCount, ws).isdisjoint(groups)  # written again, whole
    assert len(_ids(ActiveGroupDay, ws)) == len(active)


def test_sums_with_nulls_in_their_keys_compare_equal(ws: Workspace) -> None:
    """NULL keys (a stay count's open, next stage, until; a contact without facts'
    month) are equal to themselves in the compare, as in the unique key: the same rows
    are not written twice; one more row is."""
    _world(ws, random.Random(6))
    stage_id = StayLength.objects.filter(workspace=ws).values_list("stage_id", flat=True)[0]
    select = (
        "SELECT %(ws)s::bigint, 'conversion', 'ads', NULL::date, %(stage)s::bigint, NULL::bool, "
        "NULL::bigint, DATE '2026-01-02', NULL::int, NULL::date, 3"
    )
    params = {"ws": ws.pk, "stage": stage_id}
    more = select + " UNION ALL " + select.replace("'2026-01-02'", "'2026-01-03'")
    StayGroupCount.objects.filter(workspace=ws).delete()
    columns = "workspace_id, kind, source, signup_month, stage_id, open, next_stage_id, day, "
    kwargs: dict[str, Any] = {
        "table": "analytics_staygroupcount",
        "columns": (columns + "days, until, stays").split(", "),
        "workspace_id": ws.pk,
        "params": params,
    }
    with connection.cursor() as cursor:
        assert sums_replace(cursor, select=select, **kwargs)  # none stored
        assert not sums_replace(cursor, select=select, **kwargs)
        assert sums_replace(cursor, select=more, **kwargs)
        assert not sums_replace(cursor, select=more, **kwargs)
    rows = StayGroupCount.objects.filter(workspace=ws)
    stored = rows.values_list("day", "next_stage_id", "stays")
    assert sorted(stored) == [(dt.date(2026, 1, 2), None, 3), (dt.date(2026, 1, 3), None, 3)]
