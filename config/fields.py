"""Foreign keys between two tenant tables (issue 20, docs/scaling.md "Keys").

Citus distributes every tenant table by `workspace_id` and accepts a foreign key
between two of them only if it carries that column on both sides. So in the database
such a key is composite: `(contact_id, workspace_id)` references the contact's primary
key `(id, workspace_id)`, one workspace on both ends. Django's foreign keys are
single-column; these fields are Django's (joins, cascades in the ORM, forms, admin
work as before) without the single-column constraint Django would create. The
composite constraint is the migrations' `config.tenant_keys.TenantKeys`, and
`tests/test_schema_rules.py` fails on a key between tenant tables that is not one of
these fields or whose composite constraint is missing."""

from __future__ import annotations

from typing import Any

from django.db import models


class _WithoutSingleColumnConstraint:
    """Django's relation without Django's constraint (the composite one is TenantKeys')."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["db_constraint"] = False
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()  # type: ignore[misc]
        kwargs.pop("db_constraint", None)
        return name, path, args, kwargs


class TenantForeignKey(_WithoutSingleColumnConstraint, models.ForeignKey):
    """A ForeignKey from a tenant table to another; the database's constraint is the
    composite one that `TenantKeys` adds."""


class TenantOneToOneField(_WithoutSingleColumnConstraint, models.OneToOneField):
    """A OneToOneField from a tenant table to another (a contact's row of derived
    data); the database's constraint is the composite one that `TenantKeys` adds."""


class WorkspaceKey(_WithoutSingleColumnConstraint, models.ForeignKey):
    """The `workspace` key of a tenant table that has a NOT NULL TenantForeignKey: its
    composite constraint already proves the workspace exists (the parent row is of
    that workspace, and the parent's own key to the workspace is checked), so a
    database constraint here would only repeat a check on every row written — 2.6M
    of them, ~15 s of PostgreSQL, in `make bench-sweep`'s first sweep alone. The
    ORM's relation (cascades, joins) is unchanged; tests/test_schema_rules.py says
    which tables take it."""
