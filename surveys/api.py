"""REST API v1 for surveys: CRUD, sending to segments and stages, asking one contact,
the counted answers and the results."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import request_object
from config.errors import NotFound, field_errors
from config.openapi import ERRORS, described, text
from config.pagination import KeysetPagination, ResultsList, keyset_response
from contacts.models import Channel, Contact
from surveys import selectors, services, tokens
from surveys.models import Locale, Survey, SurveyKind, SurveyResponse
from workspaces.api_auth import ApiRequest


class SurveySerializer(serializers.ModelSerializer):
    name = described(text(200, blank=False))
    kind = serializers.ChoiceField(choices=SurveyKind.choices)
    question = described(text(500, blank=False))
    scale_min = serializers.IntegerField(min_value=0, max_value=10, required=False)
    scale_max = serializers.IntegerField(min_value=0, max_value=10, required=False)
    choices = serializers.ListField(
        child=serializers.CharField(max_length=100), max_length=10, required=False
    )
    follow_up = described(text(500), required=False)
    follow_up_low = described(text(500), required=False)
    follow_up_high = described(text(500), required=False)
    thank_you = described(text(500), required=False)
    locale = serializers.ChoiceField(choices=Locale.choices, required=False)
    transactional = serializers.BooleanField(required=False)
    open_url = serializers.CharField(
        read_only=True, help_text="The anonymous hosted page, to share anywhere."
    )

    class Meta:
        model = Survey
        fields = [
            "id",
            "name",
            "kind",
            "question",
            "scale_min",
            "scale_max",
            "choices",
            "follow_up",
            "follow_up_low",
            "follow_up_high",
            "thank_you",
            "locale",
            "transactional",
            "open_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "open_url", "created_at", "updated_at"]


class ResponseSerializer(serializers.ModelSerializer):
    contact_id = serializers.IntegerField(allow_null=True)
    stage = serializers.CharField(source="stage_name", help_text="The stage when answering")

    class Meta:
        model = SurveyResponse
        fields = [
            "id",
            "contact_id",
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


class SendSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    subject = described(text(500), required=False)
    intro = described(text(2000), required=False)
    include_segment_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        help_text="segments to send to; with include_stage_ids, at least one of them",
    )
    include_stage_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        help_text="stages to send to",
    )


class SentSerializer(serializers.Serializer):
    broadcast_id = serializers.IntegerField()
    status = serializers.CharField()


class AskSerializer(serializers.Serializer):
    contact_id = serializers.IntegerField(min_value=1)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    idempotency_key = described(text(150, blank=False))
    order_id = described(
        text(200), required=False, help_text="A review request: the order it asks about"
    )
    items = serializers.ListField(
        child=inline_serializer(
            "ReviewItem",
            {
                "id": described(text(200, blank=False)),
                "name": described(text(300), required=False),
            },
        ),
        max_length=20,
        required=False,
        help_text="A review request: the products to review (the hosted page lists them)",
    )


class AskedSerializer(serializers.Serializer):
    message_id = serializers.IntegerField()
    status = serializers.CharField()


def survey_to_dict(survey: Survey) -> dict[str, Any]:
    data = dict(SurveySerializer(survey).data)
    data["open_url"] = tokens.open_url(survey.pk, workspace_id=survey.workspace_id)
    return data


def _survey_or_404(request: ApiRequest, survey_id: Any) -> Survey:
    survey = selectors.survey_get(workspace=request.workspace, survey_id=survey_id)
    if survey is None:
        raise NotFound("No such survey.")
    return survey


class SurveyListView(APIView):
    pagination_class = ResultsList

    @extend_schema(
        operation_id="surveys_list", responses={200: SurveySerializer(many=True), **ERRORS}
    )
    def get(self, request: ApiRequest) -> Response:
        found = selectors.surveys_for_workspace(workspace=request.workspace)
        return Response({"results": [survey_to_dict(s) for s in found]})

    @extend_schema(
        operation_id="surveys_create",
        request=SurveySerializer,
        responses={
            201: SurveySerializer,
            409: OpenApiResponse(description="A survey has this name"),
            **ERRORS,
        },
    )
    def post(self, request: ApiRequest) -> Response:
        survey = services.survey_create(
            workspace=request.workspace, data=request_object(request.data), actor=request.actor
        )
        return Response(survey_to_dict(survey), status=status.HTTP_201_CREATED)


class SurveyDetailView(APIView):
    @extend_schema(operation_id="surveys_retrieve", responses={200: SurveySerializer, **ERRORS})
    def get(self, request: ApiRequest, survey_id: int) -> Response:
        return Response(survey_to_dict(_survey_or_404(request, survey_id)))

    @extend_schema(
        operation_id="surveys_update",
        request=SurveySerializer,
        responses={
            200: SurveySerializer,
            409: OpenApiResponse(description="A survey has this name"),
            **ERRORS,
        },
    )
    def patch(self, request: ApiRequest, survey_id: int) -> Response:
        survey = services.survey_update(
            survey=_survey_or_404(request, survey_id),
            data=request_object(request.data),
            actor=request.actor,
        )
        return Response(survey_to_dict(survey))

    @extend_schema(operation_id="surveys_delete", responses={204: None, **ERRORS})
    def delete(self, request: ApiRequest, survey_id: int) -> Response:
        services.survey_delete(survey=_survey_or_404(request, survey_id), actor=request.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SurveyResponsesView(APIView):
    pagination_class = KeysetPagination

    @extend_schema(
        operation_id="surveys_responses",
        description="The survey's counted answers, newest first (link-scanner hits are "
        "never listed).",
        responses={200: ResponseSerializer(many=True), **ERRORS},
    )
    def get(self, request: ApiRequest, survey_id: int) -> Response:
        survey = _survey_or_404(request, survey_id)
        return keyset_response(
            request,
            selectors.responses_for_survey(survey=survey),
            keys=["-answered_at", "-id"],
            item=lambda r: dict(ResponseSerializer(r).data),
        )


class SurveySendView(APIView):
    @extend_schema(
        operation_id="surveys_send",
        description="Send the survey now to the contacts of these segments and stages, as a "
        "broadcast (a marketing message: consent, caps and quiet hours apply).",
        request=SendSerializer,
        responses={201: SentSerializer, 409: OpenApiResponse(description="Not sendable"), **ERRORS},
    )
    def post(self, request: ApiRequest, survey_id: int) -> Response:
        survey = _survey_or_404(request, survey_id)
        sent = services.survey_send(
            survey=survey, data=request_object(request.data), actor=request.actor
        )
        return Response(
            {"broadcast_id": sent.broadcast_id, "status": sent.status},
            status=status.HTTP_201_CREATED,
        )


class SurveyAskView(APIView):
    @extend_schema(
        operation_id="surveys_ask",
        description="Ask one contact now; the same idempotency_key asks once. A "
        "transactional survey skips frequency caps and quiet hours.",
        request=AskSerializer,
        responses={201: AskedSerializer, **ERRORS},
    )
    def post(self, request: ApiRequest, survey_id: int) -> Response:
        survey = _survey_or_404(request, survey_id)
        body = request_object(request.data)
        errors: dict[str, list[str]] = {
            key: ["unknown field"]
            for key in set(body) - {"contact_id", "channel", "idempotency_key", "order_id", "items"}
        }
        contact_id, key = body.get("contact_id"), body.get("idempotency_key")
        if isinstance(contact_id, bool) or not isinstance(contact_id, int) or contact_id < 1:
            errors["contact_id"] = ["must be a contact's id"]
        if not isinstance(key, str) or not key.strip() or len(key) > 150:
            errors["idempotency_key"] = ["1-150 characters"]
        if errors:
            raise field_errors(errors)
        order_id, items = services.items_check(body.get("order_id", ""), body.get("items", []))
        contact = Contact.objects.filter(
            workspace=request.workspace, pk=int(contact_id or 0)
        ).first()
        if contact is None:
            raise field_errors({"contact_id": ["no such contact"]})
        message = services.survey_ask(
            survey=survey,
            contact=contact,
            channel=body.get("channel", "email"),
            idempotency_key=str(key).strip(),
            actor=request.actor,
            order_id=order_id,
            items=items,
        )
        return Response(
            {"message_id": message.pk, "status": message.status}, status=status.HTTP_201_CREATED
        )
