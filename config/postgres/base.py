"""Django's PostgreSQL backend, for a schema whose tenant tables are keyed by
`(id, workspace_id)` (config/tenant_keys.py).

Django groups a query with aggregates by a model's primary key alone and lets
PostgreSQL infer the other columns, which holds only when that column is the table's
whole primary key. A tenant table's key in the database also has `workspace_id`, so
for those models Django groups by every selected column instead (the same rows; a
few more grouping columns)."""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql import base, features

from config.citus import tenant


class DatabaseFeatures(features.DatabaseFeatures):
    def allows_group_by_selected_pks_on_model(self, model: Any) -> bool:
        return bool(super().allows_group_by_selected_pks_on_model(model)) and not tenant(model)


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
