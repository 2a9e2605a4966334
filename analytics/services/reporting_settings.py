"""What the figures mean in a workspace: which stages count as churned and at risk,
and which contact attribute names the acquisition source."""

from __future__ import annotations

import re

from django.db import transaction

from analytics.cache import figures_changed
from analytics.models import AnalyticsSettings
from analytics.services.rollup_rebuilds import rollup_rebuild_request
from config.errors import InvalidInput
from lifecycle.models import Stage
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record

ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def reporting_settings_get(*, workspace: Workspace) -> AnalyticsSettings:
    settings, _ = AnalyticsSettings.objects.get_or_create(workspace=workspace)
    return settings


@transaction.atomic
def reporting_settings_update(
    *,
    workspace: Workspace,
    actor: Actor,
    churned_stage_key: str | None = None,
    at_risk_stage_key: str | None = None,
    source_attribute: str | None = None,
) -> AnalyticsSettings:
    keys = set(Stage.objects.filter(workspace=workspace).values_list("key", flat=True))
    errors: dict[str, list[str]] = {}
    for field, value in (
        ("churned_stage_key", churned_stage_key),
        ("at_risk_stage_key", at_risk_stage_key),
    ):
        if value is not None and value not in keys:
            errors[field] = ["not a stage of this workspace"]
    if churned_stage_key is not None and churned_stage_key == at_risk_stage_key:
        errors["at_risk_stage_key"] = ["must differ from the churned stage"]
    if source_attribute is not None and not ATTRIBUTE.fullmatch(source_attribute):
        errors["source_attribute"] = [
            "an attribute name: letters, digits and _, e.g. signup_source"
        ]
    if errors:
        raise InvalidInput("The reporting settings are not valid.", fields=errors)
    settings = AnalyticsSettings.objects.select_for_update().get_or_create(workspace=workspace)[0]
    changed = []
    for field, value in (
        ("churned_stage_key", churned_stage_key),
        ("at_risk_stage_key", at_risk_stage_key),
        ("source_attribute", source_attribute),
    ):
        if value is not None and getattr(settings, field) != value:
            setattr(settings, field, value)
            changed.append(field)
    if changed:
        settings.save(update_fields=changed)
        audit_record(
            workspace=workspace,
            action="analytics.settings_changed",
            actor=actor,
            object_type="workspace",
            object_id=workspace.pk,
            details={"fields": changed},
        )
        # Churn and at-risk figures read these keys: cached figures are stale now. The
        # rollups keep what they were written with (the facts' source, each stay's
        # next stage on the funnel path): a rebuild writes them again now rather than
        # at night, shown on the analytics overview as one asked for by hand.
        transaction.on_commit(lambda: figures_changed(workspace_id=workspace.pk))
        rollup_rebuild_request(
            workspace=workspace, requested_by="reporting settings changed", after_change=True
        )
    return settings
