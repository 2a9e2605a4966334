"""Distributing the schema on Citus (docs/scaling.md): which tables are sharded by
workspace_id and which are copied whole to every node, and the statements that make
them so. Used by the test suite's Citus mode (tests/conftest.py, with CITUS_URL) and
by `manage.py citus_distribute` on a deployment.

- A tenant table (a model with a NOT NULL `workspace` foreign key) is distributed by
  `workspace_id`, every one in one co-location group (`colocate_with` the first), so
  that one workspace's rows of every table live on the same node and joins and
  foreign keys that carry workspace_id stay inside one shard.
- The global tables (workspaces, users, API keys, the tables of Django and the
  libraries it runs) are reference tables: small, read by key, joinable from any
  shard. An API key names its workspace but is looked up by its hash before the
  workspace is known, so it is global.
- A table of ours that is neither is "unplaced": a tenant table still without a NOT
  NULL workspace_id. `distribute` refuses to run while there is one.

Reference tables come first: a distributed table's foreign key to a global table is
only accepted once that table is a reference table. Citus refuses a table whose
primary key, unique constraints or foreign keys to other tenant tables leave out
workspace_id: config/tenant_keys.py gives every tenant table such keys."""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.apps.registry import Apps
from django.core.exceptions import FieldDoesNotExist
from django.db import connection, models

DISTRIBUTION_COLUMN = "workspace_id"
# Our apps: their tables are tenant tables unless named global here.
OUR_APPS = frozenset(
    {"workspaces", "contacts", "lifecycle", "messaging", "catalog", "surveys", "loyalty"}
    | {"campaigns", "analytics"}
)
GLOBAL_TABLES = frozenset(
    {
        "workspaces_workspace",
        "workspaces_user",
        "workspaces_user_groups",
        "workspaces_user_user_permissions",
        "workspaces_apikey",
    }
)
# Tenant rows whose unique spans workspaces on purpose: a verified sending domain
# belongs to one workspace, and an inbound SMS names only the number it was sent to.
# Small settings tables, copied to every node, where Citus keeps such a unique
# (tests/test_schema_rules.py: REFERENCE_UNIQUES).
REFERENCE_TENANT_TABLES = frozenset({"messaging_sendingdomain", "campaigns_messagingsettings"})


@dataclass(frozen=True)
class Layout:
    distributed: list[str]  # tenant tables, sharded by workspace_id
    reference: list[str]  # global tables, a copy on every node
    unplaced: list[str]  # tenant tables without a NOT NULL workspace_id yet


def _tenant(model: type[models.Model]) -> bool:
    try:
        field = model._meta.get_field("workspace")
    except FieldDoesNotExist:
        return False
    return isinstance(field, models.ForeignKey) and not field.null


def tenant(model: type[models.Model]) -> bool:
    """Whether the model's table is distributed by workspace_id (its primary key then
    carries the workspace too: config/tenant_keys.py)."""
    meta = model._meta
    return (
        meta.app_label in OUR_APPS
        and meta.db_table not in GLOBAL_TABLES | REFERENCE_TENANT_TABLES
        and _tenant(model)
    )


def _tables(registry: Apps = apps) -> list[type[models.Model]]:
    """Every concrete model with a table of its own (auto-created m2m tables too), of
    the running code or of a migration's state (`registry`)."""
    found: dict[str, type[models.Model]] = {}
    for model in registry.get_models(include_auto_created=True):
        meta = model._meta
        if meta.managed and not meta.proxy and not meta.swapped:
            found.setdefault(meta.db_table, model)
    return [found[name] for name in sorted(found)]


def layout(registry: Apps = apps) -> Layout:
    distributed, reference, unplaced = [], [], []
    for model in _tables(registry):
        table = model._meta.db_table
        if (
            table in GLOBAL_TABLES | REFERENCE_TENANT_TABLES
            or model._meta.app_label not in OUR_APPS
        ):
            reference.append(table)
        elif _tenant(model):
            distributed.append(table)
        else:
            unplaced.append(table)
    return Layout(
        distributed=distributed,
        reference=_referenced_first(reference, registry),
        unplaced=unplaced,
    )


def _referenced_first(tables: list[str], registry: Apps) -> list[str]:
    """Global tables ordered so that a table comes after those its foreign keys name
    (create_reference_table wants the tables it references to be Citus tables)."""
    by_table = {m._meta.db_table: m for m in _tables(registry)}
    wanted, ordered, seen = set(tables), [], set()

    def visit(table: str) -> None:
        if table in seen:
            return
        seen.add(table)
        for field in by_table[table]._meta.get_fields():
            target = getattr(field, "related_model", None)
            if field.concrete and field.many_to_one and target is not None:
                name = target._meta.db_table
                if name in wanted and name != table:
                    visit(name)
        ordered.append(table)

    for table in sorted(tables):
        visit(table)
    return ordered


def distribution_statements(plan: Layout, *, done: set[str] | None = None) -> list[str]:
    """The SELECTs that make `plan` so, skipping the tables in `done` (already Citus
    tables), reference tables first. Tenant tables join the co-location group of the
    first one."""
    done = done or set()
    statements = [
        f"SELECT create_reference_table({_literal(t)})" for t in plan.reference if t not in done
    ]
    anchor = plan.distributed[0] if plan.distributed else ""
    for table in plan.distributed:
        if table in done:
            continue
        colocate = "default" if table == anchor else anchor
        statements.append(
            f"SELECT create_distributed_table({_literal(table)}, "
            f"{_literal(DISTRIBUTION_COLUMN)}, colocate_with => {_literal(colocate)})"
        )
    return statements


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def citus_tables() -> set[str]:
    """The tables Citus already knows (distributed or reference)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT logicalrelid::regclass::text FROM pg_dist_partition")
        return {row[0] for row in cursor.fetchall()}


def distribute(*, workers: list[tuple[str, int]]) -> list[str]:
    """On a Citus coordinator: register the workers (idempotent) and turn every table
    not yet a Citus table into one; returns the statements run."""
    plan = layout()
    if plan.unplaced:
        raise RuntimeError(
            "These tenant tables have no NOT NULL workspace_id to distribute them by: "
            + ", ".join(plan.unplaced)
        )
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS citus")
        for host, port in workers:  # a node already registered is left as it is
            cursor.execute(
                """SELECT citus_add_node(%(host)s, %(port)s) WHERE NOT EXISTS (
                       SELECT 1 FROM pg_dist_node
                       WHERE nodename = %(host)s AND nodeport = %(port)s)""",
                {"host": host, "port": port},
            )
        statements = distribution_statements(plan, done=citus_tables())
        for statement in statements:
            cursor.execute(statement)
    return statements
