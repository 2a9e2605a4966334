"""Celery tasks of the catalog app: thin, take ids, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from catalog import services
from catalog.models import ProductFeed
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


@shared_task(name="catalog.feed_fetch", acks_late=True)
def feed_fetch(feed_id: int) -> None:
    """One run of a feed; a repeat fetches again and finds the rows "unchanged"."""
    feed = ProductFeed.objects.select_related("workspace").filter(pk=feed_id).first()
    if feed is not None:
        services.feed_run(feed=feed)


@shared_task(name="catalog.feeds_fetch_due")
def feeds_fetch_due() -> int:
    """Beat: claim the due feeds (each moved to its next time) and fetch each."""
    ids = services.feeds_claim_due()
    for feed_id in ids:
        feed_fetch.delay(feed_id)
    return len(ids)
