"""Settling answers: what an answer tells the rest of Stagecraft (the contact's
`survey_answered` event, which journeys, stage rules and loyalty read, and the
`on_survey_answered` hooks: the journeys' "survey answered" trigger) is told only once
the answer has stood for `SCANNER_BURST_SECONDS` without another tap.

A link scanner walking the scale with a browser's user agent taps one score first: until
its second tap comes, it looks like a person. Its answer is kept and counted nowhere
once the burst shows (answers.py); settling afterwards means that first tap never
reaches a journey or an event either. An answer changed later by a person settles again
(its new `version`: the event's key and the journey's entry are keyed by it and the
response, so nothing is told twice).

Beat runs `surveys.answers_settle` every SURVEY_SETTLE_SECONDS; each workspace's due
answers are claimed FOR UPDATE SKIP LOCKED, told, and marked `settled_version`."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from surveys.hooks import survey_answered_notify
from surveys.models import SurveyResponse
from surveys.services.answers import SCANNER_BURST_SECONDS, record_event

BATCH = 500


def _due(now: dt.datetime) -> QuerySet[SurveyResponse]:
    return SurveyResponse.objects.filter(
        settled_version__lt=F("version"),
        last_tap_at__lte=now - dt.timedelta(seconds=SCANNER_BURST_SECONDS),
    )


def answers_settle(*, now: dt.datetime | None = None) -> int:
    """Tell what every answer that has stood long enough says; returns how many were
    told. Safe to run at once on several workers and to run again."""
    now = now or timezone.now()
    told = 0
    for workspace_id in _due(now).values_list("workspace_id", flat=True).distinct():
        while True:
            count = _settle_batch(workspace_id=workspace_id, now=now)
            told += count
            if count < BATCH:
                break
    return told


def _settle_batch(*, workspace_id: int, now: dt.datetime) -> int:
    with transaction.atomic():
        rows = list(
            _due(now)
            .select_for_update(skip_locked=True, of=("self",))
            .filter(workspace_id=workspace_id)
            .select_related("survey", "survey__workspace")
            .order_by("last_tap_at", "id")[:BATCH]
        )
        for row in rows:
            if not row.is_bot and row.contact_id is not None:
                record_event(row, row.survey)
                survey_answered_notify(row, row.survey)
        SurveyResponse.objects.filter(pk__in=[row.pk for row in rows]).update(
            settled_version=F("version")
        )
        return sum(1 for row in rows if not row.is_bot and row.contact_id is not None)
