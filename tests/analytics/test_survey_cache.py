"""The survey results kept in the figures cache under the freshness rule: a repeat
within the cache's time is served from it with its `computed_at`, an answer accepted is
in the figures 15 seconds later at the latest, and a recount of the sends that changed
them does the same (the clock is advanced, never slept on)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from analytics.cache import FRESH_SECONDS
from analytics.rollups.surveys import survey_sends_refresh
from lifecycle.services import marked_contacts_evaluate
from surveys.hooks import answers_changed
from surveys.models import SurveyResponse
from tests.analytics.test_freshness import Clock
from tests.factories import ContactFactory
from tests.surveys.helpers import nps_survey, sent_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch: Any) -> Clock:
    return Clock(monkeypatch)


def _answer(ws: Any, survey: Any, key: str, callbacks: Any) -> None:
    now = timezone.now()
    with callbacks(execute=True):  # the "data changed" stamp runs on commit
        row = SurveyResponse.objects.create(
            workspace=ws,
            survey=survey,
            send_key=key,
            score=10,
            channel="link",
            answered_at=now,
            updated_at=now,
        )
        answers_changed(workspace_id=ws.pk, survey_id=survey.pk, response_ids=[row.pk])


def test_survey_results_are_cached_and_never_more_than_15_seconds_behind(
    api: Any, ws: Any, settings: Any, clock: Clock, django_capture_on_commit_callbacks: Any
) -> None:
    settings.ANALYTICS_CACHE_SECONDS = 300
    survey = nps_survey(ws)
    url = f"/api/v1/surveys/{survey.pk}/results/"
    _answer(ws, survey, "a", django_capture_on_commit_callbacks)
    clock.advance(1)
    first = api.get(url).json()
    assert first["answers"] == 1 and first["computed_at"]
    _answer(ws, survey, "b", django_capture_on_commit_callbacks)
    clock.advance(2)
    # Within 15 s the cached figure may be served: it is.
    again = api.get(url).json()
    assert (again["answers"], again["computed_at"]) == (1, first["computed_at"])
    clock.advance(FRESH_SECONDS)
    later = api.get(url).json()
    assert later["answers"] == 2 and later["computed_at"] != first["computed_at"]
    # Nothing new: the figure stays cached however old.
    clock.advance(120)
    assert api.get(url).json()["computed_at"] == later["computed_at"]
    page = api.get(f"/w/{ws.slug}/surveys/{survey.pk}/report/")
    assert page.status_code in (200, 302)


def test_a_sends_recount_that_changes_them_is_in_the_rates_15_seconds_later(
    api: Any, ws: Any, settings: Any, clock: Clock, django_capture_on_commit_callbacks: Any
) -> None:
    settings.ANALYTICS_CACHE_SECONDS = 300
    survey = nps_survey(ws)
    url = f"/api/v1/surveys/{survey.pk}/results/"
    first = api.get(url).json()
    email = next(c for c in first["by_channel"] if c["channel"] == "email")
    assert email["sent"] is None  # none counted yet
    sent_message(survey, ContactFactory.create(workspace=ws))
    with django_capture_on_commit_callbacks(execute=True):
        while marked_contacts_evaluate():  # the new contact's mark, as the engine would
            pass
        survey_sends_refresh(workspace_id=ws.pk)
    clock.advance(FRESH_SECONDS + 1)
    later = api.get(url).json()
    email = next(c for c in later["by_channel"] if c["channel"] == "email")
    assert email["sent"] == 1
    # A recount that changes nothing keeps the cached figure.
    with django_capture_on_commit_callbacks(execute=True):
        survey_sends_refresh(workspace_id=ws.pk)
    clock.advance(FRESH_SECONDS + 1)
    assert api.get(url).json()["computed_at"] == later["computed_at"]
