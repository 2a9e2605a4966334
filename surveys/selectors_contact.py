"""A contact's own survey answers, newest first: the contact page's panel and
`GET /api/v1/contacts/{id}/survey-answers/` read the same rows."""

from __future__ import annotations

from django.db.models import QuerySet

from contacts.models import Contact
from surveys.models import SurveyResponse


def answers_for_contact(*, contact: Contact) -> QuerySet[SurveyResponse]:
    """Counted answers only: a link scanner's taps (`is_bot`) are never shown."""
    return (
        SurveyResponse.objects.filter(
            workspace_id=contact.workspace_id, contact=contact, is_bot=False
        )
        .select_related("survey")
        .order_by("-answered_at", "-id")
    )
