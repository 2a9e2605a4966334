"""Celery tasks of the loyalty app: thin, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from loyalty import services


@shared_task(name="loyalty.tiers_review_due")
def tiers_review_due() -> int:
    """Move contacts to the tier their last 12 months reach, down as well as up
    (beat, daily); returns how many moved."""
    return services.tiers_review_due()
