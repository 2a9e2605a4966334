"""Celery tasks of the surveys app: thin, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from surveys.services.settle import answers_settle


@shared_task(name="surveys.answers_settle")
def answers_settle_due() -> int:
    """Tell journeys and the contact's events about answers that have stood (beat)."""
    return answers_settle()
