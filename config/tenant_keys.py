"""Keys that carry the workspace (issue 20, docs/scaling.md "Keys").

Citus accepts a distributed table's primary key only if it contains `workspace_id`,
and a foreign key between two distributed tables only if it carries `workspace_id` on
both sides. So on every tenant table (config/citus.py `layout`):

- the primary key is `(id, workspace_id)` (or `(contact_id, workspace_id)` where the
  contact is the key). `id` first: a lookup by id alone, which the ORM makes often,
  still reads the key's index. Ids still come from the table's sequence and so stay
  unique on their own; the key only adds the workspace;
- a foreign key to another tenant table (`config.fields.TenantForeignKey`, Django's
  own single-column constraint left out) is `(contact_id, workspace_id)` referencing
  `(id, workspace_id)`: a row can only point at a row of its own workspace.

`TenantKeys` brings the database to that, whatever is missing (it reads the
catalogue, so it can run again and only does what is left): a migration that adds a
tenant table depends on `analytics.0023_tenant_keys` (or a later migration with it)
and ends with it. Without downtime on one node, as config/online_migrations.py
does: each primary key's index is built CONCURRENTLY and swapped in with a moment's
lock; each foreign key is added NOT VALID (no scan under lock) and then validated
while writes go on. Foreign keys are DEFERRABLE INITIALLY DEFERRED, as Django's are.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.apps.registry import Apps
from django.contrib.postgres.operations import NotInTransactionMixin
from django.db import models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations.base import Operation

from config.citus import DISTRIBUTION_COLUMN, layout
from config.fields import TenantForeignKey, TenantOneToOneField


@dataclass(frozen=True)
class ForeignKey:
    table: str
    column: str
    target: str
    target_column: str

    @property
    def name(self) -> str:
        return constraint_name(f"{self.table}_{self.column}_ws_fk")


@dataclass(frozen=True)
class Keys:
    primary: dict[str, str]  # tenant table -> its key column (the workspace added)
    foreign: list[ForeignKey]


def constraint_name(name: str) -> str:
    """A name within PostgreSQL's 63 characters, still unique when cut short."""
    if len(name) <= 63:
        return name
    digest = hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()[:8]
    return f"{name[:54]}_{digest}"


def tenant_keys(registry: Apps) -> Keys:
    """The keys the tenant tables of `registry` (the running code's models or a
    migration's state) must have."""
    tables = set(layout(registry).distributed)
    primary: dict[str, str] = {}
    foreign: list[ForeignKey] = []
    for model in registry.get_models():
        meta = model._meta
        if meta.db_table not in tables:
            continue
        pk = meta.pk
        if isinstance(pk, models.Field) and pk.column not in (None, DISTRIBUTION_COLUMN):
            primary[meta.db_table] = pk.column
        for field in meta.local_concrete_fields:
            if isinstance(field, TenantForeignKey | TenantOneToOneField):
                target = field.target_field
                if target.column in (None, DISTRIBUTION_COLUMN):
                    raise ValueError(
                        f"{meta.label}.{field.name}: a TenantForeignKey must point at a "
                        "model keyed by one column other than workspace_id"
                    )
                foreign.append(
                    ForeignKey(
                        meta.db_table,
                        field.column,
                        target.model._meta.db_table,
                        str(target.column),
                    )
                )
    return Keys(primary=dict(sorted(primary.items())), foreign=sorted(foreign, key=str))


def _primary_key(cursor: Any, table: str) -> tuple[str, list[str]] | None:
    """(constraint name, columns in order) of the table's primary key."""
    cursor.execute(
        """SELECT c.conname, array_agg(a.attname ORDER BY k.n)
           FROM pg_constraint c
           CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, n)
           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
           WHERE c.conrelid = %s::regclass AND c.contype = 'p'
           GROUP BY c.conname""",
        [table],
    )
    row = cursor.fetchone()
    return (row[0], list(row[1])) if row else None


def _validated(cursor: Any, table: str, name: str) -> bool | None:
    """Whether the constraint is validated; None if there is none of that name."""
    cursor.execute(
        "SELECT convalidated FROM pg_constraint WHERE conrelid = %s::regclass AND conname = %s",
        [table, name],
    )
    row = cursor.fetchone()
    return None if row is None else bool(row[0])


def _swap_primary_key(editor: BaseDatabaseSchemaEditor, table: str, columns: list[str]) -> None:
    """Make `columns` the table's primary key: a unique index built CONCURRENTLY (an
    invalid one left by a failed run is dropped first), then one ALTER TABLE that
    drops the old key and attaches the index under the same constraint name."""
    quote = editor.quote_name
    with editor.connection.cursor() as cursor:
        current = _primary_key(cursor, table)
    if current and current[1] == columns:
        return
    name = current[0] if current else constraint_name(f"{table}_pkey")
    building = constraint_name(f"{table}_pkey_new")
    editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {quote(building)}")
    editor.execute(
        f"CREATE UNIQUE INDEX CONCURRENTLY {quote(building)} ON {quote(table)} "
        f"({', '.join(quote(c) for c in columns)})"
    )
    drop = f"DROP CONSTRAINT {quote(name)}, " if current else ""
    editor.execute(
        f"ALTER TABLE {quote(table)} {drop}"
        f"ADD CONSTRAINT {quote(name)} PRIMARY KEY USING INDEX {quote(building)}"
    )


def _add_foreign_key(editor: BaseDatabaseSchemaEditor, key: ForeignKey) -> None:
    quote = editor.quote_name
    with editor.connection.cursor() as cursor:
        validated = _validated(cursor, key.table, key.name)
    if validated:
        return
    if validated is None:
        editor.execute(
            f"ALTER TABLE {quote(key.table)} ADD CONSTRAINT {quote(key.name)} "
            f"FOREIGN KEY ({quote(key.column)}, {DISTRIBUTION_COLUMN}) "
            f"REFERENCES {quote(key.target)} ({quote(key.target_column)}, {DISTRIBUTION_COLUMN}) "
            "DEFERRABLE INITIALLY DEFERRED NOT VALID"
        )
    # Also a key a stopped run added but never validated (a row pointing at another
    # workspace's row fails here, naming the key, and the migration is not recorded).
    editor.execute(f"ALTER TABLE {quote(key.table)} VALIDATE CONSTRAINT {quote(key.name)}")


def apply(editor: BaseDatabaseSchemaEditor, keys: Keys) -> None:
    """Primary keys first (a foreign key needs the unique key it references)."""
    for table, column in keys.primary.items():
        _swap_primary_key(editor, table, [column, DISTRIBUTION_COLUMN])
    for key in keys.foreign:
        _add_foreign_key(editor, key)


def undo(editor: BaseDatabaseSchemaEditor, keys: Keys) -> None:
    """Back to single-column primary keys and no composite foreign keys (the migrations
    before put Django's own foreign keys back)."""
    quote = editor.quote_name
    for key in keys.foreign:
        editor.execute(
            f"ALTER TABLE {quote(key.table)} DROP CONSTRAINT IF EXISTS {quote(key.name)}"
        )
    for table, column in keys.primary.items():
        _swap_primary_key(editor, table, [column])


class TenantKeys(NotInTransactionMixin, Operation):
    """Every tenant table's primary key and every key between tenant tables carries
    `workspace_id` (see the module's docstring). The migration says `atomic = False`."""

    reversible = True
    reduces_to_sql = False
    atomic = False

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass  # the models already say it: TenantForeignKey, and the tables' layout

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: Any,
        to_state: Any,
    ) -> None:
        self._ensure_not_in_transaction(schema_editor)
        apply(schema_editor, tenant_keys(to_state.apps))

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: Any,
        to_state: Any,
    ) -> None:
        self._ensure_not_in_transaction(schema_editor)
        undo(schema_editor, tenant_keys(from_state.apps))

    def describe(self) -> str:
        return "Primary keys and keys between tenant tables carry workspace_id"

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return ("config.tenant_keys.TenantKeys", [], {})
