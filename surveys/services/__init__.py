"""Every write the surveys app makes goes through these functions."""

from surveys.services.answers import Outcome, Resolved, Tap, answer_submit, answer_tap, send_resolve
from surveys.services.definitions import survey_create, survey_delete, survey_update
from surveys.services.reviews import (
    Entry,
    Item,
    items_check,
    review_items,
    review_moderate,
    reviews_submit,
)
from surveys.services.sending import ask_template, survey_ask, survey_send

__all__ = [
    "Entry",
    "Item",
    "Outcome",
    "Resolved",
    "Tap",
    "answer_submit",
    "answer_tap",
    "ask_template",
    "items_check",
    "review_items",
    "review_moderate",
    "reviews_submit",
    "send_resolve",
    "survey_ask",
    "survey_create",
    "survey_delete",
    "survey_send",
    "survey_update",
]
