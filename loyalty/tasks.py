"""Celery tasks of the loyalty app: thin, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from loyalty import services


@shared_task(name="loyalty.tiers_review_due")
def tiers_review_due() -> int:
    """Move contacts to the tier their last 12 months reach, down as well as up
    (beat, daily); returns how many moved."""
    return services.tiers_review_due()


@shared_task(name="loyalty.points_expire_due")
def points_expire_due() -> list[int]:
    """Expire inactive balances and fire the reminders due (beat, hourly); returns
    [balances expired, reminders]. Keyed entries: a second run writes nothing."""
    return list(services.points_expire_due())


@shared_task(name="loyalty.birthdays_record_due")
def birthdays_record_due() -> int:
    """Record today's `birthday` events for the programmes that give birthday points
    (beat, hourly: each workspace's day starts at its own hour); returns how many were
    new. Keyed per contact and year: a second run records nothing."""
    return services.birthdays_record_due()
