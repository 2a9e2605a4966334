"""Keys that carry the workspace (issue 20; config/tenant_keys.py): in the migrated
database every tenant table's primary key includes workspace_id and every key between
tenant tables is composite, so a row can only point at a row of its own workspace; the
check is shown to catch planted single-column keys, and the migrations' operation to
fix them on tables that hold rows. tests/test_schema_rules.py holds the rules on the
models (a key between tenant tables must be a TenantForeignKey)."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction

from config.tenant_keys import ForeignKey, Keys, apply, tenant_keys
from tests.factories import ContactFactory, EventFactory, WorkspaceFactory
from workspaces.models import Workspace

_COMPOSITE = """
SELECT 1 FROM pg_constraint c
WHERE c.contype = 'f' AND c.convalidated
  AND c.conrelid = %s::regclass AND c.confrelid = %s::regclass
  AND ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i)
      = ARRAY[%s, 'workspace_id']
  AND ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
            JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i)
      = ARRAY[%s, 'workspace_id']
"""


def key_problems(cursor: Any, keys: Keys) -> list[str]:
    """Rules 2 and 3 in the database for these keys: each primary key includes
    workspace_id; each tenant foreign key is a constraint (column, workspace_id) ->
    (target column, workspace_id), and no single-column one is left beside it."""
    problems = []
    for table in keys.primary:
        found = connection.introspection.get_constraints(cursor, table)
        pk = [c["columns"] for c in found.values() if c["primary_key"]]
        if not pk or "workspace_id" not in pk[0]:
            problems.append(f"{table}: primary key {pk} lacks workspace_id")
    for key in keys.foreign:
        cursor.execute(_COMPOSITE, [key.table, key.target, key.column, key.target_column])
        if cursor.fetchone() is None:
            problems.append(f"{key.table}.{key.column}: no composite key to {key.target}")
        found = connection.introspection.get_constraints(cursor, key.table)
        if any(
            c["foreign_key"] and c["foreign_key"][0] == key.target and c["columns"] == [key.column]
            for c in found.values()
        ):
            problems.append(f"{key.table}.{key.column}: a single-column key to {key.target}")
    return problems


@pytest.mark.django_db
def test_the_migrated_database_keys_carry_the_workspace():
    keys = tenant_keys(apps)
    # Every tenant table with a key of its own, and the keys between them: contacts'
    # events, the outbox's contact, a contact's stage (the contact is its key).
    assert {"contacts_contact", "contacts_event", "lifecycle_contactstage"} <= set(keys.primary)
    assert ForeignKey("contacts_event", "contact_id", "contacts_contact", "id") in keys.foreign
    assert len(keys.foreign) > 50
    with connection.cursor() as cursor:
        assert key_problems(cursor, keys) == []


PLANTED = """
CREATE TABLE planted_parent (id bigint PRIMARY KEY, workspace_id bigint NOT NULL);
CREATE TABLE planted_child (
    id bigint PRIMARY KEY, workspace_id bigint NOT NULL,
    parent_id bigint REFERENCES planted_parent (id) DEFERRABLE INITIALLY DEFERRED);
INSERT INTO planted_parent VALUES (1, 10), (2, 20);
INSERT INTO planted_child VALUES (1, 10, 1), (2, 20, 2), (3, 20, NULL);
"""


@pytest.mark.django_db(transaction=True)
def test_tenant_keys_turn_planted_single_column_keys_composite():
    """The database check catches single-column keys, and the migrations' operation
    makes them composite on tables that hold rows: a row pointing at another
    workspace's row stops it (the key is left unvalidated, and validated by the run
    after the row is mended); afterwards no such row can be written."""
    keys = Keys(
        primary={"planted_child": "id", "planted_parent": "id"},
        foreign=[ForeignKey("planted_child", "parent_id", "planted_parent", "id")],
    )
    with connection.cursor() as cursor:
        cursor.execute(PLANTED)
    try:
        with connection.cursor() as cursor:
            assert key_problems(cursor, keys) == [
                "planted_child: primary key [['id']] lacks workspace_id",
                "planted_parent: primary key [['id']] lacks workspace_id",
                "planted_child.parent_id: no composite key to planted_parent",
                "planted_child.parent_id: a single-column key to planted_parent",
            ]
            cursor.execute("ALTER TABLE planted_child DROP CONSTRAINT planted_child_parent_id_fkey")
            # Written while no key guarded the column: a row of workspace 20 naming
            # workspace 10's parent. The key cannot be validated; the run says so.
            cursor.execute("INSERT INTO planted_child VALUES (5, 20, 1)")
        with pytest.raises(IntegrityError), connection.schema_editor(atomic=False) as editor:
            apply(editor, keys)
        with connection.cursor() as cursor:
            # Added but not validated: still a problem, and the next run validates it.
            assert key_problems(cursor, keys) == [
                "planted_child.parent_id: no composite key to planted_parent"
            ]
            cursor.execute("DELETE FROM planted_child WHERE id = 5")
        with connection.schema_editor(atomic=False) as editor:
            apply(editor, keys)
            apply(editor, keys)  # again: nothing left to do
        with connection.cursor() as cursor:
            assert key_problems(cursor, keys) == []
            # Autocommit: the deferred check runs as the statement commits.
            with pytest.raises(IntegrityError):
                cursor.execute("INSERT INTO planted_child VALUES (4, 20, 1)")
            cursor.execute("INSERT INTO planted_child VALUES (4, 10, 1)")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS planted_child, planted_parent")


@pytest.mark.django_db
def test_a_row_cannot_point_at_another_workspaces_row():
    """The composite keys in use: an event of workspace B naming a contact of
    workspace A is refused by the database, whatever code wrote it; the same event
    in A is kept."""
    a, b = WorkspaceFactory.create(), WorkspaceFactory.create()
    contact = ContactFactory.create(workspace=a)

    def write(workspace: Workspace) -> None:
        with transaction.atomic():
            EventFactory.create(workspace=workspace, contact=contact)
            connection.check_constraints()  # the keys are deferred: checked now

    with pytest.raises(IntegrityError):
        write(b)
    write(a)
    assert contact.events.count() == 1
