"""The data rules that let Stagecraft distribute on Citus by workspace (issue 20;
DESIGN.md "Running and testing", docs/architecture.md "Data rules"), checked on every
model, on the migrations' final state and on the migrated database, so that a table
added later follows them too:

1. a tenant table (every table of our apps but the few global ones in `GLOBAL`) has
   a NOT NULL `workspace` foreign key;
2. every primary key, unique constraint, unique field and unique index of a tenant
   table includes `workspace_id` (primary keys in the database: `(id, workspace_id)`,
   config/tenant_keys.py);
3. a foreign key between our tables joins two tables that both carry `workspace_id`
   (so a join can include it and Citus co-locates them) or points to a global table,
   and a global table points only to global tables (Citus refuses a reference table
   pointing into a distributed one). Between two tenant tables the key is a
   `config.fields.TenantForeignKey` (or has no database constraint on purpose), and
   the database holds its composite constraint `(column, workspace_id)`: a row can
   only point at a row of its own workspace. That a join includes `workspace_id` is a
   rule for the SQL, not checked here. A table with a NOT NULL such key has its
   workspace proved by it: its own key to the workspace is a `config.fields.WorkspaceKey`
   (no constraint; one check fewer per row written);
4. every queue claim (`SKIP LOCKED`) filters by workspace.

Each rule is also shown to catch a planted violation (`test_*_catch_*`)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

import pytest
from django.apps import apps
from django.db import connection, models
from django.db.migrations.loader import MigrationLoader
from django.test.utils import isolate_apps

from config.citus import GLOBAL_TABLES, REFERENCE_TENANT_TABLES, layout
from config.fields import TenantForeignKey, TenantOneToOneField, WorkspaceKey
from workspaces.models import Workspace

ROOT = Path(__file__).resolve().parent.parent
APPS = (
    "workspaces",
    "contacts",
    "lifecycle",
    "messaging",
    "catalog",
    "surveys",
    "loyalty",
    "campaigns",
    "analytics",
)

# Global tables: small, read by key, reference tables in Citus. Keep this list short.
GLOBAL = {
    "workspaces.Workspace": "the tenants themselves",
    "workspaces.User": "a person signs in once and may belong to several workspaces",
    "workspaces.User_groups": "Django's table of a user's groups",
    "workspaces.User_user_permissions": "Django's table of a user's permissions",
    "workspaces.ApiKey": "a request names its key, not its workspace: found by the hash",
}
# Tenant rows whose unique spans workspaces on purpose. These small settings tables are
# reference tables in Citus (copied to every node), where such a unique holds.
REFERENCE_UNIQUES = {
    # Two workspaces may add a domain; only one can prove it owns it.
    "messaging.SendingDomain": {"sending_domain_verified_once"},
    # An inbound SMS names only the number it was sent to: one workspace per number.
    "messaging.MessagingSettings": {"messaging_sms_number_unique"},
}
# Claims allowed to read across workspaces (none today): each entry names the claim
# and why, and goes when the claim is fixed.
CLAIMS_ACROSS_WORKSPACES: set[str] = set()


def _workspace_field(model: type[models.Model]) -> models.Field | None:
    for field in model._meta.concrete_fields:
        if field.name == "workspace" and field.is_relation:
            return field
    return None


def _carries_workspace(model: type[models.Model]) -> bool:
    field = _workspace_field(model)
    return field is not None and not field.null


def _unique_problems(model: type[models.Model]) -> list[str]:
    label, allowed = model._meta.label, REFERENCE_UNIQUES.get(model._meta.label, set())
    problems = [
        f"{label}.{field.name} is unique without workspace_id"
        for field in model._meta.concrete_fields
        if field.unique and not field.primary_key and field.name != "workspace"
    ]
    problems += [
        f"{label} unique_together {fields} lacks workspace"
        for fields in model._meta.unique_together
        if "workspace" not in fields
    ]
    problems += [
        f"{label} constraint {c.name} {list(c.fields)} lacks workspace"
        for c in model._meta.constraints
        if isinstance(c, models.UniqueConstraint)
        and c.name not in allowed
        and "workspace" not in c.fields
        and "workspace_id" not in c.fields
    ]
    return problems


def _relation_problems(model: type[models.Model]) -> list[str]:
    label, problems = model._meta.label, []
    for field in model._meta.concrete_fields:
        target = field.related_model if field.is_relation else None
        if not isinstance(target, type) or target._meta.app_label not in APPS:
            continue
        to = target._meta.label
        if label in GLOBAL or label in REFERENCE_UNIQUES:
            if to not in GLOBAL:
                problems.append(f"{label}.{field.name}: a global table points to tenant {to}")
        elif to not in GLOBAL and not _carries_workspace(target):
            problems.append(f"{label}.{field.name} points to {to}, which has no workspace")
        elif (
            to not in GLOBAL
            and to not in REFERENCE_UNIQUES
            and getattr(field, "db_constraint", False)
            and _carries_workspace(model)
        ):
            problems.append(
                f"{label}.{field.name} is a single-column key to tenant {to}: "
                "make it a config.fields.TenantForeignKey (and end the migration with "
                "config.tenant_keys.TenantKeys())"
            )
    return problems


def _workspace_key_problems(model: type[models.Model]) -> list[str]:
    """Rule 3's corollary: a table with a NOT NULL TenantForeignKey has its workspace
    proved by that key, so its own key to the workspace is a `WorkspaceKey` (no
    constraint: a check on every row written, for nothing); one without keeps the
    constraint. A per-workspace row keyed by its workspace (a OneToOneField) keeps it."""
    field, label = _workspace_field(model), model._meta.label
    if field is None or field.null or isinstance(field, models.OneToOneField):
        return []
    parented = any(
        isinstance(f, TenantForeignKey | TenantOneToOneField) and not f.null
        for f in model._meta.concrete_fields
    )
    if parented and getattr(field, "db_constraint", False):
        return [f"{label}.workspace repeats its tenant keys' check: make it a WorkspaceKey"]
    if not parented and isinstance(field, WorkspaceKey):
        return [f"{label}.workspace is a WorkspaceKey, but no tenant key proves it"]
    return []


def rule_violations(all_models: Iterable[type[models.Model]]) -> list[str]:
    """Rules 1 to 3 over these models (those of other apps are skipped)."""
    problems: list[str] = []
    for model in all_models:
        label = model._meta.label
        if model._meta.app_label not in APPS:
            continue
        problems += _relation_problems(model)
        if label in GLOBAL:
            continue
        if not _carries_workspace(model):
            problems.append(f"{label} has no NOT NULL workspace")
        problems += _workspace_key_problems(model)
        problems += _unique_problems(model)
    return problems


def test_models_follow_the_data_rules():
    assert rule_violations(apps.get_models(include_auto_created=True)) == []


def test_the_citus_layout_places_tables_as_these_rules_do():
    """config/citus.py copies to every node exactly the tables allowed here to hold
    rows or uniques across workspaces, and distributes every other table of ours."""
    table = {m._meta.label: m._meta.db_table for m in apps.get_models(include_auto_created=True)}
    assert {table[label] for label in GLOBAL} == GLOBAL_TABLES
    assert {table[label] for label in REFERENCE_UNIQUES} == REFERENCE_TENANT_TABLES
    plan = layout()
    assert set(plan.reference) >= GLOBAL_TABLES | REFERENCE_TENANT_TABLES
    assert plan.unplaced == []


def test_the_migrations_final_state_follows_the_data_rules():
    state = MigrationLoader(None, ignore_no_migrations=True).project_state()
    assert rule_violations(state.apps.get_models(include_auto_created=True)) == []


@pytest.mark.django_db
def test_the_migrated_database_follows_the_data_rules():
    """What the migrations built, raw SQL included: every unique index of a tenant
    table, its primary key's too, has workspace_id among its columns (a reference
    table's key aside: copied whole to every node), and the column is NOT NULL."""
    problems = []
    with connection.cursor() as cursor:
        for model in apps.get_models(include_auto_created=True):
            label, table = model._meta.label, model._meta.db_table
            if model._meta.app_label not in APPS or label in GLOBAL:
                continue
            columns = {
                c.name: c for c in connection.introspection.get_table_description(cursor, table)
            }
            if "workspace_id" not in columns or columns["workspace_id"].null_ok:
                problems.append(f"{table}.workspace_id is missing or NULL-able")
            allowed = REFERENCE_UNIQUES.get(label, set())
            for name, c in connection.introspection.get_constraints(cursor, table).items():
                global_unique = c["unique"] and "workspace_id" not in c["columns"]
                reference_key = c["primary_key"] and label in REFERENCE_UNIQUES
                if global_unique and name not in allowed and not reference_key:
                    problems.append(f"{table}: unique {name} {c['columns']}")
    assert problems == []


def _statement_of(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> ast.stmt:
    while not isinstance(node, ast.stmt):
        node = parents[node]
    return node


def _named(stmt: ast.stmt, parents: dict[ast.AST, ast.AST]) -> str:
    """The constant a statement assigns at module level, else its function's name."""
    node: ast.AST = stmt
    while node in parents and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        node = parents[node]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return node.name
    if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id
    return f"line {stmt.lineno}"


def _filters_by_workspace(stmt: ast.stmt, text: str) -> bool:
    if re.search(r"\bworkspace_id\s*(=|IN\b)", text, re.IGNORECASE):
        return True  # SQL: WHERE … workspace_id = …
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"filter", "get"}
        and any((k.arg or "").startswith("workspace") for k in node.keywords)
        for node in ast.walk(stmt)
    )


def claims_without_workspace(path: str, source: str) -> list[tuple[str, int]]:
    """Rule 4 in one module: the statements that claim with SKIP LOCKED (SQL text or
    `select_for_update(skip_locked=True)`) without filtering by workspace, as
    ("<path>:<constant or function>", line)."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    claims: set[ast.stmt] = set()
    for node in ast.walk(tree):
        is_sql = isinstance(node, ast.Constant) and "SKIP LOCKED" in str(node.value)
        is_orm = isinstance(node, ast.keyword) and node.arg == "skip_locked"
        if is_sql or is_orm:
            stmt = _statement_of(node, parents)
            docstring = isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            if not docstring:
                claims.add(stmt)
    return [
        (f"{path}:{_named(stmt, parents)}", stmt.lineno)
        for stmt in sorted(claims, key=lambda s: s.lineno)
        if not _filters_by_workspace(stmt, ast.get_source_segment(source, stmt) or "")
    ]


def _app_modules() -> Iterable[Path]:
    for app in (*APPS, "config"):
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def test_queue_claims_take_one_workspace_at_a_time():
    found, seen = [], set()
    for path in _app_modules():
        source, relative = path.read_text(), str(path.relative_to(ROOT))
        if "SKIP LOCKED" in source or "skip_locked" in source:
            found += claims_without_workspace(relative, source)
            seen.add(relative)
    problems = [f"{name} (line {line})" for name, line in found]
    assert [p for p in problems if p.split(" ")[0] not in CLAIMS_ACROSS_WORKSPACES] == []
    # An entry that excuses nothing any more goes (the claim it named was fixed).
    assert {name for name, _ in found} >= CLAIMS_ACROSS_WORKSPACES
    # The scan read the claims it is meant to check (outbox, stage transitions…).
    assert {"messaging/services/claims.py", "lifecycle/hooks.py"} <= seen


@isolate_apps("contacts")
def test_the_model_rules_catch_planted_violations():
    # Planted models, never shown: no __str__ (DJ008).
    class Parent(models.Model):  # noqa: DJ008
        workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")

        class Meta:
            app_label = "contacts"

    class Orphan(models.Model):  # noqa: DJ008 (no workspace, a unique without it)
        parent = models.ForeignKey(Parent, on_delete=models.CASCADE, related_name="+")
        code = models.CharField(max_length=10, unique=True)

        class Meta:
            app_label = "contacts"
            constraints = [models.UniqueConstraint(fields=["parent", "code"], name="planted")]

    class Child(models.Model):  # noqa: DJ008 (a key to Orphan, a NULL-able workspace)
        workspace = models.ForeignKey(Workspace, null=True, on_delete=models.CASCADE)
        orphan = models.ForeignKey(Orphan, on_delete=models.CASCADE, related_name="+")

        class Meta:
            app_label = "contacts"

    class Sibling(models.Model):  # noqa: DJ008 (a plain key to a tenant table, a right one)
        workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
        parent = models.ForeignKey(Parent, on_delete=models.CASCADE, related_name="+")
        other = TenantForeignKey(Parent, on_delete=models.CASCADE, related_name="+")

        class Meta:
            app_label = "contacts"

    class Loner(models.Model):  # noqa: DJ008 (an unchecked workspace, no tenant key)
        workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+")
        optional = TenantForeignKey(Parent, null=True, on_delete=models.CASCADE, related_name="+")

        class Meta:
            app_label = "contacts"

    found = rule_violations([Parent, Orphan, Child, Sibling, Loner])
    assert rule_violations([Parent]) == []
    assert found == [
        "contacts.Orphan has no NOT NULL workspace",
        "contacts.Orphan.code is unique without workspace_id",
        "contacts.Orphan constraint planted ['parent', 'code'] lacks workspace",
        "contacts.Child.orphan points to contacts.Orphan, which has no workspace",
        "contacts.Child has no NOT NULL workspace",
        "contacts.Sibling.parent is a single-column key to tenant contacts.Parent: make it "
        "a config.fields.TenantForeignKey (and end the migration with "
        "config.tenant_keys.TenantKeys())",
        "contacts.Sibling.workspace repeats its tenant keys' check: make it a WorkspaceKey",
        "contacts.Loner.workspace is a WorkspaceKey, but no tenant key proves it",
    ]


def test_the_claim_rule_catches_a_planted_claim():
    planted = '''
"""Docstrings may say FOR UPDATE SKIP LOCKED."""
_SQL = "SELECT id FROM t WHERE due_at <= now() ORDER BY due_at FOR UPDATE SKIP LOCKED"
_OK = "SELECT id FROM t WHERE workspace_id = %s FOR UPDATE SKIP LOCKED"

def claim():
    return list(Row.objects.select_for_update(skip_locked=True).filter(due=True))

def claim_one(ws):
    return list(Row.objects.select_for_update(skip_locked=True).filter(workspace_id=ws))
'''
    assert claims_without_workspace("planted.py", planted) == [
        ("planted.py:_SQL", 3),
        ("planted.py:claim", 7),
    ]
