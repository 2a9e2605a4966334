"""Citus mode (docs/scaling.md, config/citus.py): which tables are distributed by
workspace_id and which are reference tables, the statements that make them so, and
the distributed form of the queue claims' workspace scan. The first part runs on plain
PostgreSQL; the tests marked `citus` need a cluster (CITUS_URL) and skip without one."""

from __future__ import annotations

import datetime as dt
import io
import os
import re

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from campaigns.journeys.claims import CLAIM_SQL, enrolment_due_workspaces
from campaigns.journeys.engine import journeys_advance
from campaigns.journeys.triggers import enrol
from config.citus import DISTRIBUTION_COLUMN, Layout, distribution_statements, layout
from config.db import workspaces_with_sql
from contacts.models import Contact
from messaging.services.claims import messages_claim
from tests.campaigns.journeys.helpers import journey, step
from tests.factories import WorkspaceFactory
from tests.messaging.helpers import email_template, enqueue

citus = pytest.mark.skipif(
    not os.environ.get("CITUS_URL"),
    reason=(
        "CITUS_URL is not set: these tests need a Citus cluster "
        "(docker compose -f docker-compose.citus.yml up -d; docs/scaling.md)"
    ),
)

# Tenant tables that have no NOT NULL workspace_id yet (issue 20's schema work adds it;
# WebhookEvent keeps events of unknown messages without one). A table added later
# without workspace_id fails here.
NOT_YET_PLACED = {
    "campaigns_broadcastvariant",
    "campaigns_journeysegmentmember",
    "campaigns_journeystep",
    "campaigns_webhookevent",
    "contacts_importrowerror",
}


def test_tenant_tables_are_distributed_and_global_tables_are_reference_tables():
    plan = layout()
    assert len(plan.distributed) > 50
    for table in ("contacts_contact", "contacts_event", "campaigns_message"):
        assert table in plan.distributed
    for table in ("workspaces_workspace", "workspaces_user", "workspaces_apikey"):
        assert table in plan.reference  # read by key before a workspace is known
    assert "django_content_type" in plan.reference and "django_session" in plan.reference
    assert set(plan.unplaced) <= NOT_YET_PLACED
    every = {m._meta.db_table for m in apps.get_models(include_auto_created=True)}
    placed = [*plan.distributed, *plan.reference, *plan.unplaced]
    assert sorted(placed) == sorted(every)  # each table once, none left out


@pytest.mark.django_db
def test_every_distributed_table_has_a_not_null_workspace_id_column():
    tables = layout().distributed
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT table_name FROM information_schema.columns
               WHERE column_name = %s AND is_nullable = 'NO' AND table_name = ANY(%s)""",
            [DISTRIBUTION_COLUMN, tables],
        )
        found = {row[0] for row in cursor.fetchall()}
    assert found == set(tables)


def test_reference_tables_come_before_the_tables_that_name_them():
    plan = layout()
    order = {table: i for i, table in enumerate(plan.reference)}
    assert order["workspaces_user"] < order["workspaces_user_groups"]
    assert order["auth_group"] < order["workspaces_user_groups"]
    assert order["django_content_type"] < order["auth_permission"]


def test_the_statements_make_reference_tables_first_and_colocate_every_tenant_table():
    plan = Layout(
        distributed=["contacts_contact", "contacts_event"],
        reference=["workspaces_workspace", "o'dd"],
        unplaced=[],
    )
    assert distribution_statements(plan) == [
        "SELECT create_reference_table('workspaces_workspace')",
        "SELECT create_reference_table('o''dd')",
        "SELECT create_distributed_table('contacts_contact', 'workspace_id', "
        "colocate_with => 'default')",
        "SELECT create_distributed_table('contacts_event', 'workspace_id', "
        "colocate_with => 'contacts_contact')",
    ]
    # Tables Citus already has are left alone (a second run after new migrations).
    done = {"workspaces_workspace", "contacts_contact"}
    assert distribution_statements(plan, done=done) == [
        "SELECT create_reference_table('o''dd')",
        "SELECT create_distributed_table('contacts_event', 'workspace_id', "
        "colocate_with => 'contacts_contact')",
    ]


def test_citus_distribute_prints_the_statements_and_the_tables_not_yet_placed():
    out, err = io.StringIO(), io.StringIO()
    call_command("citus_distribute", "--print", stdout=out, stderr=err)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("SELECT create_reference_table(")
    assert "SELECT create_reference_table('workspaces_apikey');" in lines
    assert any(
        line.startswith("SELECT create_distributed_table('contacts_event'") for line in lines
    )
    assert set(layout().unplaced) <= set(err.getvalue().split(": ", 1)[-1].strip().split(", "))


def test_on_citus_the_workspace_scan_is_a_distinct_not_a_recursive_skip_scan(settings):
    args = {"table": "campaigns_message", "where": "status = 'scheduled'", "ready": "TRUE"}
    settings.DATABASE_CITUS = False
    assert "WITH RECURSIVE" in workspaces_with_sql(**args)
    settings.DATABASE_CITUS = True
    citus_form = workspaces_with_sql(**args)
    assert "RECURSIVE" not in citus_form
    assert citus_form.startswith("SELECT DISTINCT workspace_id FROM campaigns_message")


def test_the_journey_claim_reads_one_workspace_in_every_table():
    tables = re.findall(r"(?:FROM|JOIN) (\w+) (\w)\b", CLAIM_SQL)
    assert {t for t, _ in tables} == {
        "campaigns_journeyenrolment",
        "campaigns_journey",
        "contacts_contact",
    }
    for _table, alias in tables:
        assert f"{alias}.workspace_id = %(ws)s" in CLAIM_SQL
    assert "FOR UPDATE OF e SKIP LOCKED" in CLAIM_SQL


def _due_journeys(ws_ids: list, now: dt.datetime) -> None:
    for ws in ws_ids:
        j = journey(ws, {"kind": "manual"}, [step("wait", "wait", duration={"days": 3})])
        made = Contact.objects.bulk_create(
            Contact(workspace=ws, email=f"c{i}@{ws.slug}.test") for i in range(5)
        )
        enrol(j, [(c.pk, f"api:t:{c.pk}", now - dt.timedelta(minutes=1)) for c in made])


@pytest.mark.django_db
@pytest.mark.parametrize("on_citus", [False, True])
def test_both_forms_find_the_same_workspaces(ws, settings, on_citus):
    """The distributed form is plain SQL too: on one server it answers the same."""
    other = WorkspaceFactory.create(slug="other")
    now = timezone.now()
    _due_journeys([ws, other], now)
    settings.DATABASE_CITUS = on_citus
    assert sorted(enrolment_due_workspaces(now=now)) == sorted([ws.pk, other.pk])


@citus
@pytest.mark.django_db
def test_on_the_cluster_every_tenant_table_is_distributed_by_workspace_and_colocated():
    plan = layout()
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT logicalrelid::regclass::text, partmethod,
                      column_to_column_name(logicalrelid, partkey), colocationid
               FROM pg_dist_partition"""
        )
        rows = {r[0]: r[1:] for r in cursor.fetchall()}
    for table in plan.distributed:
        assert rows[table][:2] == ("h", DISTRIBUTION_COLUMN), table
    assert len({rows[t][2] for t in plan.distributed}) == 1  # one co-location group
    for table in plan.reference:
        assert rows[table][0] == "n", table


@citus
@pytest.mark.django_db
def test_on_the_cluster_the_claims_run_one_workspace_at_a_time(ws):
    """Claims across tenants fail on Citus ("could not run distributed query with FOR
    UPDATE/SHARE"); these take one workspace at a time and run."""
    other = WorkspaceFactory.create(slug="other")
    now = timezone.now()
    _due_journeys([ws, other], now)
    assert journeys_advance(now=now) == 10
    enqueue([Contact.objects.filter(workspace=ws).first()], email_template(ws))
    enqueue([Contact.objects.filter(workspace=other).first()], email_template(other))
    assert len(messages_claim()) == 2
