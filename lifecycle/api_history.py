"""REST API v1 for a contact's stage history: reading it with both of its times, and
importing known moves from elsewhere (cause `import`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.openapi import ERRORS
from config.pagination import KeysetPagination, keyset_page, paginated_response, parse_limit
from contacts.serializers import SIGNUP_PATTERN
from lifecycle import selectors
from lifecycle.api import contact_or_404
from lifecycle.models import Cause, StageTransition
from lifecycle.services.history import history_entries_clean, stage_history_import
from lifecycle.services.stages import KEY
from workspaces.api_auth import ApiRequest


class TransitionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    from_stage = serializers.CharField(allow_null=True)
    to_stage = serializers.CharField()
    at = serializers.DateTimeField(help_text="when the move happened in the contact's life")
    recorded_at = serializers.DateTimeField(help_text="when Stagecraft learned of it")
    cause = serializers.ChoiceField(Cause.values)
    event_id = serializers.IntegerField(
        allow_null=True, help_text="the event that caused a rule move, if one did"
    )
    event_name = serializers.CharField(help_text="its name; empty when none")
    rule_version = serializers.IntegerField()
    reason = serializers.CharField()
    time_in_stage_seconds = serializers.FloatField(
        allow_null=True, help_text="how long the contact stayed in to_stage (null: still there)"
    )


class HistoryImportResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text="moves stored now")
    duplicates = serializers.IntegerField(help_text="moves already stored (same stage and at)")


HISTORY_ENTRY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["stage", "at"],
    "properties": {
        "stage": {"type": "string", "pattern": KEY.pattern, "description": "a live stage's key"},
        "at": {
            "type": "string",
            "pattern": SIGNUP_PATTERN,
            "description": "when the contact entered the stage: an ISO 8601 date-time (UTC "
            "without an offset) or a date alone (midnight in the workspace's time zone); "
            "not in the future",
        },
    },
}


def transition_to_dict(transition: StageTransition, left_at: Any) -> dict[str, Any]:
    return {
        "id": transition.pk,
        "from_stage": transition.from_stage.key if transition.from_stage else None,
        "to_stage": transition.to_stage.key,
        "at": transition.at.isoformat(),
        "recorded_at": transition.recorded_at.isoformat(),
        "cause": transition.cause,
        "event_id": transition.event_id,
        "event_name": transition.event_name,
        "rule_version": transition.rule_version,
        "reason": transition.reason,
        "time_in_stage_seconds": (left_at - transition.at).total_seconds() if left_at else None,
    }


class ContactTransitionsView(APIView):
    pagination_class = KeysetPagination

    @extend_schema(
        operation_id="contacts_transitions_list",
        description="The contact's stage history, newest first (by when each move "
        "happened), with when Stagecraft recorded it and the time spent in each stage.",
        responses={200: TransitionSerializer(many=True), **ERRORS},
    )
    def get(self, request: ApiRequest, contact_id: int) -> Response:
        contact = contact_or_404(request, contact_id)
        history = selectors.transitions_for_contact(contact_id=contact.pk)
        rows, cursor = keyset_page(
            history,
            keys=["-at", "-id"],
            cursor=request.query_params.get("cursor"),
            limit=parse_limit(request.query_params.get("limit")),
        )
        # Each stay ends when the next (newer) transition begins.
        left = [None, *[t.at for t in rows[:-1]]][: len(rows)]
        if rows and request.query_params.get("cursor"):
            newer = history.filter(at__gt=rows[0].at).order_by("at", "id").first()
            left[0] = newer.at if newer else None
        return paginated_response(
            request,
            [transition_to_dict(t, left_at) for t, left_at in zip(rows, left, strict=True)],
            cursor,
        )

    @extend_schema(
        operation_id="contacts_transitions_import",
        description="Import known stage history (cause import): one "
        '{"stage", "at"} object or a list of up to 1000. Every entry is checked first '
        "(a 400 names the index and field: [3].at); then all are stored, each once: an "
        "entry already stored (same stage and at) counts as a duplicate. The contact's "
        "stage history is then replayed from the earliest new move; imported moves stay "
        "as given, like manual ones.",
        request={
            "application/json": {
                "oneOf": [
                    HISTORY_ENTRY,
                    {
                        "type": "array",
                        "items": HISTORY_ENTRY,
                        "minItems": 1,
                        "maxItems": settings.API_BATCH_MAX_ITEMS,
                    },
                ]
            }
        },
        responses={
            201: HistoryImportResponseSerializer,
            200: OpenApiResponse(
                HistoryImportResponseSerializer, description="Every entry was already stored"
            ),
            **ERRORS,
        },
    )
    def post(self, request: ApiRequest, contact_id: int) -> Response:
        contact = contact_or_404(request, contact_id)
        entries = history_entries_clean(
            request.data,
            workspace=request.workspace,
            contact_id=contact.pk,
            limit=settings.API_BATCH_MAX_ITEMS,
        )
        result = stage_history_import(
            workspace=request.workspace,
            entries=entries,
            actor=request.actor,
            source="api",
            reason="imported through the API",
        )
        return Response(
            {"created": result.created, "duplicates": result.duplicates},
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )
