"""Quiet hours and frequency caps over the API: `/api/v1/settings/sending-rules/`."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import request_object
from config.errors import InvalidInput, NotFound
from config.openapi import ERRORS
from contacts.models import Channel
from messaging.models import CapPolicy
from messaging.services.policies import policy_rows, sending_policy_set

FIELDS = (
    "cap_messages",
    "cap_period_hours",
    "cap_policy",
    "quiet_hours_enabled",
    "quiet_start",
    "quiet_end",
)


class SendingRulesSerializer(serializers.Serializer[Any]):
    channel = serializers.ChoiceField(choices=Channel.choices, read_only=True)
    cap_messages = serializers.IntegerField(
        allow_null=True, min_value=1, max_value=1000, help_text="null: no cap"
    )
    cap_period_hours = serializers.IntegerField(min_value=1, max_value=2160)
    cap_policy = serializers.ChoiceField(choices=CapPolicy.choices)
    quiet_hours_enabled = serializers.BooleanField()
    quiet_start = serializers.CharField(help_text="HH:MM on the contact's clock")
    quiet_end = serializers.CharField(help_text="HH:MM on the contact's clock")


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {"channel": row["channel"], **{key: row[key] for key in FIELDS}}


class SendingRulesListView(APIView):
    @extend_schema(
        operation_id="settings_sending_rules_list",
        description="Each channel's frequency cap and quiet hours, as the dispatcher applies them.",
        responses={200: SendingRulesSerializer(many=True), **ERRORS},
    )
    def get(self, request: Any) -> Response:
        return Response([_public(row) for row in policy_rows(workspace=request.workspace)])


class SendingRulesDetailView(APIView):
    @extend_schema(
        operation_id="settings_sending_rules_update",
        description="Change a channel's rules; fields left out keep their current value.",
        request=SendingRulesSerializer(partial=True),
        responses={200: SendingRulesSerializer, **ERRORS},
    )
    def patch(self, request: Any, channel: str) -> Response:
        if channel not in Channel.values:
            raise NotFound("No such channel.")
        data = request_object(request.data)
        unknown = {key: ["unknown field"] for key in data if key not in FIELDS}
        if unknown:
            raise InvalidInput("The sending rules are not valid.", fields=unknown)
        current = next(
            row for row in policy_rows(workspace=request.workspace) if row["channel"] == channel
        )
        values = {key: data.get(key, current[key]) for key in FIELDS}
        sending_policy_set(
            workspace=request.workspace, channel=channel, actor=request.actor, **values
        )
        updated = next(
            row for row in policy_rows(workspace=request.workspace) if row["channel"] == channel
        )
        return Response(_public(updated))
