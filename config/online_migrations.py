"""Schema changes that keep a big table readable and writable while they run (issue 20).

Migrations import these operations; each runs outside a transaction (the migration
says `atomic = False`) so that no statement holds a lock for longer than one batch.

- `workspace_column_added`: a nullable `workspace_id` (an instant `ADD COLUMN`), its
  foreign key `NOT VALID` (no scan), then the column filled from the parent row in
  id-range batches of `BATCH` rows, each its own short transaction.
- `workspace_made_not_null`: fills what old code wrote meanwhile, then `NOT NULL`
  without the long lock: a `CHECK (workspace_id IS NOT NULL) NOT VALID`, validated
  while writes go on, lets PostgreSQL (12+) set `NOT NULL` without scanning; the
  check is dropped and the foreign key validated the same way.
- `AddUniqueConcurrently` / `RemoveUniqueConcurrently`: a unique constraint built
  with `CREATE UNIQUE INDEX CONCURRENTLY` and attached (`ADD CONSTRAINT … USING
  INDEX`), or for a conditional one kept as the unique index Django expects.

For no downtime, deploy in two steps: `migrate` up to the migrations that add the
columns, roll out the code (which sets `workspace` on every row it creates), then
`migrate` the rest. Run at once (development, tests, a deployment that stops its
workers) they are simply migrations.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.operations import NotInTransactionMixin
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import StateApps

BATCH = 10_000


def _ranges(schema_editor: BaseDatabaseSchemaEditor, table: str) -> list[tuple[int, int]]:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT min(id), max(id) FROM {table}")
        low, high = cursor.fetchone()
    if low is None:
        return []
    return [(start, start + BATCH) for start in range(low, high + 1, BATCH)]


def filled_from_parent(table: str, parent_table: str, parent_column: str) -> Any:
    """A RunPython function: `workspace_id` from the parent row, in id-range batches."""

    def fill(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        # Autocommit (the migration is not atomic): each batch is its own transaction.
        for start, end in _ranges(schema_editor, table):
            schema_editor.execute(
                f"UPDATE {table} AS t SET workspace_id = p.workspace_id FROM {parent_table} p "
                f"WHERE p.id = t.{parent_column} AND t.id >= %s AND t.id < %s "
                "AND t.workspace_id IS NULL",
                [start, end],
            )

    return fill


def _workspace_field(*, null: bool, db_index: bool = False) -> models.ForeignKey[Any]:
    return models.ForeignKey(
        "workspaces.Workspace",
        null=null,
        db_index=db_index,
        on_delete=models.CASCADE,
        related_name="+",
    )


def workspace_column_added(
    *, model_name: str, table: str, parent_table: str, parent_column: str
) -> list[Operation]:
    """`workspace` on `model_name`, nullable, filled from its parent row."""
    fk = f"{table}_workspace_id_fk"
    return [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(model_name, "workspace", _workspace_field(null=True))
            ],
            database_operations=[
                # IF EXISTS / IF NOT EXISTS: a run stopped half-way (no transaction
                # spans the steps) is simply run again.
                migrations.RunSQL(
                    f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS workspace_id bigint NULL",
                    f"ALTER TABLE {table} DROP COLUMN workspace_id",
                ),
                migrations.RunSQL(
                    f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {fk}, "
                    f"ADD CONSTRAINT {fk} FOREIGN KEY (workspace_id) "
                    "REFERENCES workspaces_workspace (id) DEFERRABLE INITIALLY DEFERRED "
                    "NOT VALID",
                    migrations.RunSQL.noop,
                ),
            ],
        ),
        migrations.RunPython(
            filled_from_parent(table, parent_table, parent_column), migrations.RunPython.noop
        ),
    ]


def workspace_made_not_null(
    *,
    model_name: str,
    table: str,
    fill: Any,
    foreign_key: str | None = None,
    db_index: bool = False,
) -> list[Operation]:
    """`NOT NULL` on `workspace_id` after `fill` (a RunPython function) took the
    rows written since; `foreign_key` names a `NOT VALID` one to validate; `db_index`
    is the field's, for the migration state."""
    check = f"{table}_workspace_present"
    database: list[Operation] = [
        migrations.RunSQL(
            f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {check}, ADD CONSTRAINT {check} "
            "CHECK (workspace_id IS NOT NULL) NOT VALID",
            migrations.RunSQL.noop,
        ),
        migrations.RunSQL(
            f"ALTER TABLE {table} VALIDATE CONSTRAINT {check}", migrations.RunSQL.noop
        ),
        migrations.RunSQL(
            f"ALTER TABLE {table} ALTER COLUMN workspace_id SET NOT NULL",
            f"ALTER TABLE {table} ALTER COLUMN workspace_id DROP NOT NULL",
        ),
        migrations.RunSQL(
            f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {check}", migrations.RunSQL.noop
        ),
    ]
    if foreign_key:
        database.append(
            migrations.RunSQL(
                f"ALTER TABLE {table} VALIDATE CONSTRAINT {foreign_key}", migrations.RunSQL.noop
            )
        )
    return [
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name, "workspace", _workspace_field(null=False, db_index=db_index)
                )
            ],
            database_operations=database,
        ),
    ]


def _columns(model: type[models.Model], constraint: models.UniqueConstraint, quote: Any) -> str:
    fields = [model._meta.get_field(name) for name in constraint.fields]
    return ", ".join(quote(f.column) for f in fields if isinstance(f, models.Field))


class AddUniqueConcurrently(NotInTransactionMixin, migrations.AddConstraint):
    """A unique constraint (fields, optionally a condition) built without blocking
    writes: the index first, CONCURRENTLY, then attached to the table."""

    atomic = False

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: Any,
        to_state: Any,
    ) -> None:
        self._ensure_not_in_transaction(schema_editor)
        model = to_state.apps.get_model(app_label, self.model_name)
        constraint = self.constraint
        assert isinstance(constraint, models.UniqueConstraint) and constraint.fields
        quote, table = schema_editor.quote_name, schema_editor.quote_name(model._meta.db_table)
        name = quote(constraint.name)
        # A build that failed earlier leaves an invalid index behind: start again.
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        if constraint.condition is not None:
            sql = str(constraint.create_sql(model, schema_editor))
            schema_editor.execute(
                sql.replace("CREATE UNIQUE INDEX", "CREATE UNIQUE INDEX CONCURRENTLY", 1),
                params=None,
            )
            return
        columns = _columns(model, constraint, quote)
        schema_editor.execute(f"CREATE UNIQUE INDEX CONCURRENTLY {name} ON {table} ({columns})")
        schema_editor.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE USING INDEX {name}"
        )


class RemoveUniqueConcurrently(NotInTransactionMixin, migrations.RemoveConstraint):
    """Drops a unique constraint: a conditional one (an index) CONCURRENTLY, a plain
    one by `DROP CONSTRAINT` (a moment's lock, no scan)."""

    atomic = False

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: Any,
        to_state: Any,
    ) -> None:
        self._ensure_not_in_transaction(schema_editor)
        model = from_state.apps.get_model(app_label, self.model_name)
        constraint = next(c for c in model._meta.constraints if c.name == self.name)
        quote, table = schema_editor.quote_name, schema_editor.quote_name(model._meta.db_table)
        if isinstance(constraint, models.UniqueConstraint) and constraint.condition is not None:
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {quote(self.name)}")
        else:
            schema_editor.execute(
                f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {quote(self.name)}"
            )


def rows_without_workspace_deleted(table: str) -> Any:
    """A RunPython function for `workspace_made_not_null` where a row without a
    workspace cannot be given one: such rows are deleted, in id-range batches."""

    def delete(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        for start, end in _ranges(schema_editor, table):
            schema_editor.execute(
                f"DELETE FROM {table} WHERE workspace_id IS NULL AND id >= %s AND id < %s",
                [start, end],
            )

    return delete
