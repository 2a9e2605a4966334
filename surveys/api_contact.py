"""`GET /api/v1/contacts/{id}/survey-answers/`: a contact's survey answers, newest first,
for an integration showing them beside the contact (a CRM's timeline)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import NotFound
from config.openapi import ERRORS
from config.pagination import KeysetPagination, keyset_response
from contacts.selectors import contact_get
from surveys.models import SurveyResponse
from surveys.selectors_contact import answers_for_contact
from workspaces.api_auth import ApiRequest


class ContactAnswerSerializer(serializers.ModelSerializer):
    survey_id = serializers.IntegerField()
    survey_name = serializers.CharField(source="survey.name")
    survey_kind = serializers.CharField(source="survey.kind")
    stage = serializers.CharField(source="stage_name", help_text="The stage when answering")

    class Meta:
        model = SurveyResponse
        fields = [
            "id",
            "survey_id",
            "survey_name",
            "survey_kind",
            "score",
            "category",
            "comment",
            "channel",
            "message_id",
            "stage",
            "answered_at",
            "updated_at",
            "locked",
        ]


class ContactAnswersView(APIView):
    pagination_class = KeysetPagination

    @extend_schema(
        operation_id="contacts_survey_answers",
        description="The contact's counted survey answers, newest first (link-scanner hits "
        "are never listed).",
        responses={200: ContactAnswerSerializer(many=True), **ERRORS},
    )
    def get(self, request: ApiRequest, contact_id: int) -> Response:
        contact = contact_get(workspace=request.workspace, contact_id=contact_id)
        if contact is None:
            raise NotFound("No such contact.")
        return keyset_response(
            request,
            answers_for_contact(contact=contact),
            keys=["-answered_at", "-id"],
            item=lambda answer: dict(ContactAnswerSerializer(answer).data),
        )
