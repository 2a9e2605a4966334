"""Admin for surveys and answers, scoped to the staff user's workspaces. Answers change
only through the services (a tap, the hosted page), so they are read-only here."""

from __future__ import annotations

from django.contrib import admin

from surveys.models import Survey, SurveyResponse
from workspaces.admin import ReadOnlyAdmin


@admin.register(Survey)
class SurveyAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "workspace", "locale", "transactional", "created_at"]
    list_filter = ["kind", "locale"]
    search_fields = ["name__startswith"]


@admin.register(SurveyResponse)
class SurveyResponseAdmin(ReadOnlyAdmin):
    list_display = ["survey", "contact", "score", "category", "channel", "answered_at", "is_bot"]
    list_filter = ["channel", "category", "is_bot"]
    raw_id_fields = ["contact", "survey", "stage"]
