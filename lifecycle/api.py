"""REST API v1 for lifecycle stages and contacts' stages (their history: api_history.py)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import request_object
from config.errors import InvalidInput, NotFound
from config.openapi import ERRORS, described, or_empty, text
from config.pagination import ResultsList
from config.query import MOMENT_PATTERN
from contacts.api_segments import RULE
from contacts.models import Contact
from contacts.selectors import contact_get
from contacts.validation import parse_datetime
from lifecycle import selectors, services
from lifecycle.models import ContactStage, Stage
from lifecycle.services.stages import COLOUR, KEY, MAX_DESCRIPTION
from workspaces.api_auth import ApiRequest


class StageSerializer(serializers.ModelSerializer):
    key = described({"type": "string", "pattern": KEY.pattern})
    name = described(text(100, blank=False))
    colour = described({"type": "string", "pattern": COLOUR.pattern}, required=False)
    description = described(text(MAX_DESCRIPTION), required=False)
    rule = described(
        {
            **RULE,
            "nullable": True,
            "description": "the entry rule (docs/rules.md); null on "
            "the default stage, and only there",
        }
    )
    contacts = serializers.IntegerField(read_only=True, help_text="contacts in it now")

    class Meta:
        model = Stage
        fields = [
            "id",
            "key",
            "name",
            "colour",
            "description",
            "position",
            "rule",
            "rule_version",
            "is_default",
            "contacts",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "position",
            "rule_version",
            "is_default",
            "contacts",
            "created_at",
            "updated_at",
        ]


class ReorderSerializer(serializers.Serializer):
    order = serializers.ListField(
        child=described({"type": "string", "pattern": KEY.pattern}),
        help_text="every non-default stage key of the workspace once, first evaluated first",
    )


class ContactStageSerializer(serializers.Serializer):
    stage = serializers.CharField(allow_null=True, help_text="its key; null: not evaluated yet")
    stage_name = serializers.CharField(allow_null=True)
    entered_at = serializers.DateTimeField(allow_null=True)
    days_in_stage = serializers.FloatField(allow_null=True)
    pinned = serializers.BooleanField()
    pinned_until = serializers.DateTimeField(allow_null=True)


class ContactStageSetSerializer(serializers.Serializer):
    stage = described({"type": "string", "pattern": KEY.pattern}, help_text="a stage's key")
    pinned = serializers.BooleanField(default=True)
    pinned_until = described(
        or_empty({"type": "string", "format": "date-time", "pattern": MOMENT_PATTERN}),
        required=False,
        help_text="empty or null: pinned until unpinned",
    )
    reason = described(text(500), required=False, write_only=True)


def stage_to_dict(stage: Stage, counts: dict[int, int]) -> dict[str, Any]:
    data = dict(StageSerializer(stage).data)
    data["contacts"] = counts.get(stage.pk, 0)
    return data


def contact_stage_to_dict(state: ContactStage | None, now: Any) -> dict[str, Any]:
    if state is None:
        # Not evaluated yet (a contact just created): the same object, with nothing in it.
        return {
            "stage": None,
            "stage_name": None,
            "entered_at": None,
            "days_in_stage": None,
            "pinned": False,
            "pinned_until": None,
        }
    return {
        "stage": state.stage.key,
        "stage_name": state.stage.name,
        "entered_at": state.entered_at.isoformat(),
        "days_in_stage": round((now - state.entered_at).total_seconds() / 86400, 3),
        "pinned": state.is_pinned(now),
        "pinned_until": state.pinned_until.isoformat() if state.pinned_until else None,
    }


def _stage_or_404(request: ApiRequest, stage_id: Any) -> Stage:
    stage = selectors.stage_get(workspace=request.workspace, key_or_id=stage_id)
    if stage is None:
        raise NotFound("No such stage.")
    return stage


def contact_or_404(request: ApiRequest, contact_id: Any) -> Contact:
    contact = contact_get(workspace=request.workspace, contact_id=contact_id)
    if contact is None:
        raise NotFound("No such contact.")
    return contact


class StageListView(APIView):
    pagination_class = ResultsList

    @extend_schema(
        operation_id="stages_list",
        description="Stages in evaluation order "
        "(the default last), with how many contacts are in each now.",
        responses={200: StageSerializer(many=True), **ERRORS},
    )
    def get(self, request: ApiRequest) -> Response:
        counts = selectors.stage_counts(workspace=request.workspace)
        stages = selectors.stages_for_workspace(workspace=request.workspace)
        return Response({"results": [stage_to_dict(s, counts) for s in stages]})

    @extend_schema(
        operation_id="stages_create",
        description="A new stage, evaluated "
        "after the others and before the default. Every contact is evaluated "
        "again.",
        request=StageSerializer,
        responses={
            201: StageSerializer,
            409: OpenApiResponse(description="A stage has this key"),
            **ERRORS,
        },
    )
    def post(self, request: ApiRequest) -> Response:
        stage = services.stage_create(
            workspace=request.workspace, data=request_object(request.data), actor=request.actor
        )
        return Response(stage_to_dict(stage, {}), status=status.HTTP_201_CREATED)


class StageDetailView(APIView):
    @extend_schema(operation_id="stages_retrieve", responses={200: StageSerializer, **ERRORS})
    def get(self, request: ApiRequest, stage_id: int) -> Response:
        counts = selectors.stage_counts(workspace=request.workspace)
        return Response(stage_to_dict(_stage_or_404(request, stage_id), counts))

    @extend_schema(
        operation_id="stages_update",
        description="A changed rule gets a new rule_version and every contact is evaluated again.",
        request=StageSerializer,
        responses={
            200: StageSerializer,
            409: OpenApiResponse(description="A stage has this key"),
            **ERRORS,
        },
    )
    def patch(self, request: ApiRequest, stage_id: int) -> Response:
        stage = services.stage_update(
            stage=_stage_or_404(request, stage_id),
            data=request_object(request.data),
            actor=request.actor,
        )
        return Response(stage_to_dict(stage, selectors.stage_counts(workspace=request.workspace)))

    @extend_schema(
        operation_id="stages_delete",
        description="Remove a stage: its contacts "
        "move at once by the other stages' rules; the history keeps it. The default "
        "stage cannot be removed until another is the default (409).",
        responses={
            204: None,
            **ERRORS,
            409: OpenApiResponse(description="The default stage cannot be removed"),
        },
    )
    def delete(self, request: ApiRequest, stage_id: int) -> Response:
        services.stage_archive(stage=_stage_or_404(request, stage_id), actor=request.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StageReorderView(APIView):
    pagination_class = ResultsList

    @extend_schema(
        operation_id="stages_reorder",
        request=ReorderSerializer,
        responses={200: StageSerializer(many=True), **ERRORS},
    )
    def post(self, request: ApiRequest) -> Response:
        body = request_object(request.data)
        stages = services.stages_reorder(
            workspace=request.workspace, keys=body.get("order"), actor=request.actor
        )
        counts = selectors.stage_counts(workspace=request.workspace)
        return Response({"results": [stage_to_dict(s, counts) for s in stages]})


class StageMakeDefaultView(APIView):
    @extend_schema(
        operation_id="stages_make_default", request=None, responses={200: StageSerializer, **ERRORS}
    )
    def post(self, request: ApiRequest, stage_id: int) -> Response:
        stage = services.stage_make_default(
            stage=_stage_or_404(request, stage_id), actor=request.actor
        )
        return Response(stage_to_dict(stage, selectors.stage_counts(workspace=request.workspace)))


class ContactStageView(APIView):
    @extend_schema(
        operation_id="contacts_stage_retrieve", responses={200: ContactStageSerializer, **ERRORS}
    )
    def get(self, request: ApiRequest, contact_id: int) -> Response:
        contact = contact_or_404(request, contact_id)
        return Response(
            contact_stage_to_dict(selectors.contact_stage(contact_id=contact.pk), timezone.now())
        )

    @extend_schema(
        operation_id="contacts_stage_set",
        description="Move the contact by hand (cause api). Pinned by default: "
        "rules leave it there until pinned_until, or until unpinned.",
        request=ContactStageSetSerializer,
        responses={200: ContactStageSerializer, **ERRORS},
    )
    def post(self, request: ApiRequest, contact_id: int) -> Response:
        contact = contact_or_404(request, contact_id)
        body = request_object(request.data)
        unknown = set(body) - {"stage", "reason", "pinned", "pinned_until"}
        if unknown:
            raise InvalidInput("Unknown fields.", fields={k: ["unknown field"] for k in unknown})
        stage = selectors.stage_get(workspace=request.workspace, key_or_id=str(body.get("stage")))
        if stage is None:
            raise InvalidInput("No such stage.", fields={"stage": ["unknown stage key"]})
        pinned_until = None
        if body.get("pinned_until") not in (None, ""):
            pinned_until, error = parse_datetime(body["pinned_until"])
            if error:
                raise InvalidInput(error, fields={"pinned_until": [error]})
        pinned = body.get("pinned", True)
        if not isinstance(pinned, bool):
            raise InvalidInput(
                "pinned must be true or false.", fields={"pinned": ["not a boolean"]}
            )
        reason = body.get("reason", "")
        if not isinstance(reason, str) or len(reason) > 500:
            raise InvalidInput(
                "reason must be a string of at most 500 characters.",
                fields={"reason": ["a string of at most 500 characters"]},
            )
        services.contact_stage_set(
            contact=contact,
            stage=stage,
            actor=request.actor,
            reason=reason,
            pin=pinned,
            pinned_until=pinned_until,
        )
        return Response(
            contact_stage_to_dict(selectors.contact_stage(contact_id=contact.pk), timezone.now())
        )


class ContactStageUnpinView(APIView):
    @extend_schema(
        operation_id="contacts_stage_unpin",
        request=None,
        responses={200: ContactStageSerializer, **ERRORS},
    )
    def post(self, request: ApiRequest, contact_id: int) -> Response:
        contact = contact_or_404(request, contact_id)
        services.contact_stage_unpin(contact=contact, actor=request.actor)
        return Response(
            contact_stage_to_dict(selectors.contact_stage(contact_id=contact.pk), timezone.now())
        )
