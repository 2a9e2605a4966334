"""Celery tasks of the catalog app: thin, take ids, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from catalog import services
from config.db import workspaces_with
from workspaces.models import Workspace


@shared_task(name="catalog.recommendations_compute", acks_late=True)
def recommendations_compute(workspace_id: int) -> None:
    """Replace one workspace's stored recommendations (every kind); a repeat replaces
    them again."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is not None:
        services.recommendations_compute(workspace=workspace)


@shared_task(name="catalog.recommendations_compute_all")
def recommendations_compute_all() -> int:
    """Beat: one compute per workspace that has active products."""
    ids = workspaces_with(table="catalog_product", where="active")
    for workspace_id in ids:
        recommendations_compute.delay(workspace_id)
    return len(ids)
