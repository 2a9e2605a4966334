"""Celery task of the referral programme: thin, safe to run twice (each referral is
paid in a transaction that only a still-held referral passes)."""

from __future__ import annotations

from celery import shared_task

from loyalty.services.referrals_payout import referrals_release_due as release_due


@shared_task(name="loyalty.referrals_release_due", acks_late=True)
def referrals_release_due() -> int:
    """Pay the referral rewards whose refund hold has ended (beat, hourly); returns
    how many referrals were looked at."""
    return release_due()
