"""REST API v1 for broadcasts (`/api/v1/campaigns/`): list, create, retrieve, update a
draft, audience count, and the schedule / pause / resume / cancel actions."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.broadcasts import definition, selectors, services
from campaigns.broadcasts.audience import audience_count
from campaigns.broadcasts.delivery import broadcast_audience
from campaigns.models import Broadcast, BroadcastVariant, WinnerMetric
from config.actions import status_action_view
from config.api import request_object
from config.errors import NotFound, field_errors
from config.openapi import ERRORS, described, or_empty, text
from config.pagination import ResultsList
from config.query import MOMENT_PATTERN
from contacts.models import Channel
from workspaces.api_auth import ApiRequest


class VariantSerializer(serializers.ModelSerializer):
    label = serializers.CharField(required=False, max_length=20)  # type: ignore[assignment]
    template_id = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        help_text="a template of the channel (default: the broadcast's template_id)",
    )
    weight = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    subject = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="Email: a subject line instead of the template's, personalised like it "
        "(e.g. `{{ first_name }}, new in`); empty: the template's.",
    )
    send_at = described(
        or_empty({"type": "string", "format": "date-time", "pattern": MOMENT_PATTERN}),
        required=False,
        help_text="A test of send time: this arm goes at this instant (with a UTC offset) "
        "instead of the broadcast's time; only with schedule now or at. The rest of the "
        "audience then gets the winning arm's time of day (workspace clock), next "
        "after the decision.",
    )

    class Meta:
        model = BroadcastVariant
        fields = [
            "id",
            "label",
            "template_id",
            "subject",
            "send_at",
            "weight",
            "is_default",
            "best_time",
        ]
        extra_kwargs = {
            "best_time": {
                "help_text": "This arm goes at each contact's best time within 24 h of the "
                "broadcast's time (a test of send time); the others as scheduled."
            }
        }
        read_only_fields = ["id"]


def _ids() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        allow_null=True,
        help_text="ids of this workspace (null: none)",
    )


LOCAL_TIME = "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"
YEAR = "^(19[7-9][0-9]|2[0-9]{3})-"


class StatsSerializer(serializers.Serializer):
    recipients = serializers.IntegerField()
    sent = serializers.IntegerField()
    opened = serializers.IntegerField()
    clicked = serializers.IntegerField()
    suppressed = serializers.IntegerField()
    failed = serializers.IntegerField()


WRITABLE = [
    "name",
    "channel",
    "template_id",
    "include_segment_ids",
    "include_stage_ids",
    "exclude_segment_ids",
    "exclude_stage_ids",
    "schedule",
    "send_at",
    "local_date",
    "local_time",
    "throttle_per_hour",
    "variants",
    "test_pool_percent",
    "winner_wait_hours",
    "winner_metric",
    "conversion_event",
    "conversion_window_days",
]
# What the broadcast reports (id first); never taken from a request.
READ_ONLY = [
    "id",
    "status",
    "recipient_count",
    "stats",
    "first_due_at",
    "winner_due_at",
    "winner",
    "winner_reason",
    "scheduled_at",
    "finished_at",
    "created_at",
    "updated_at",
]


class BroadcastSerializer(serializers.ModelSerializer):
    name = described(text(200, blank=False))
    template_id = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, help_text="a template of the broadcast's channel"
    )
    include_segment_ids = _ids()
    include_stage_ids = _ids()
    exclude_segment_ids = _ids()
    exclude_stage_ids = _ids()
    send_at = described(
        or_empty(
            {
                "type": "string",
                "format": "date-time",
                "pattern": MOMENT_PATTERN,
            }
        ),
        required=False,
        help_text="schedule at: the instant, with a UTC offset",
    )
    local_date = described(
        or_empty({"type": "string", "format": "date", "pattern": YEAR}),
        required=False,
        help_text="schedule local: the day in each contact's time zone",
    )
    local_time = described(
        or_empty({"type": "string", "pattern": LOCAL_TIME}),
        required=False,
        help_text="schedule local: the time of day in each contact's time zone, HH:MM",
    )
    throttle_per_hour = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**31 - 1
    )
    test_pool_percent = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=100
    )
    winner_wait_hours = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**31 - 1
    )
    winner_metric = serializers.ChoiceField(
        choices=WinnerMetric.choices,
        required=False,
        help_text="What the A/B test is judged on: opens, clicks or conversions (rates "
        "over sent, two-proportion z-test) or revenue (per recipient, Welch's t-test).",
    )
    conversion_event = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="The event that counts as a conversion (empty: the workspace's purchase "
        "events), attributed last-touch within conversion_window_days of the message.",
    )
    conversion_window_days = serializers.IntegerField(
        required=False, min_value=1, max_value=90, help_text="default 7"
    )
    variants = VariantSerializer(many=True, required=False, allow_null=True)
    stats = serializers.SerializerMethodField()
    winner = serializers.SerializerMethodField()

    class Meta:
        model = Broadcast
        fields = ["id", *WRITABLE, *READ_ONLY[1:]]
        read_only_fields = READ_ONLY

    @extend_schema_field(StatsSerializer)
    def get_stats(self, broadcast: Broadcast) -> dict[str, int]:
        return {
            "recipients": broadcast.recipient_count,
            "sent": getattr(broadcast, "n_sent", 0),
            "opened": getattr(broadcast, "n_opened", 0),
            "clicked": getattr(broadcast, "n_clicked", 0),
            "suppressed": getattr(broadcast, "n_suppressed", 0),
            "failed": getattr(broadcast, "n_failed", 0),
        }

    def get_winner(self, broadcast: Broadcast) -> str | None:
        return broadcast.winner_variant.label if broadcast.winner_variant else None


class AudienceRequestSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    include_segment_ids = _ids()
    include_stage_ids = _ids()
    exclude_segment_ids = _ids()
    exclude_stage_ids = _ids()


class AudienceCountSerializer(serializers.Serializer):
    count = serializers.IntegerField(
        help_text="Distinct contacts the audience reaches now, with consent for the channel"
    )


def _broadcast_or_404(request: ApiRequest, broadcast_id: Any) -> Broadcast:
    broadcast = selectors.broadcast_get(workspace=request.workspace, broadcast_id=broadcast_id)
    if broadcast is None:
        raise NotFound("No such campaign.")
    return broadcast


def _out(request: ApiRequest, broadcast_id: int) -> dict[str, Any]:
    return dict(BroadcastSerializer(_broadcast_or_404(request, broadcast_id)).data)


class BroadcastListView(APIView):
    pagination_class = ResultsList

    @extend_schema(
        operation_id="campaigns_list",
        responses={200: BroadcastSerializer(many=True), **ERRORS},
    )
    def get(self, request: ApiRequest) -> Response:
        rows = selectors.broadcasts_for_workspace(workspace=request.workspace, limit=500)
        return Response({"results": [BroadcastSerializer(b).data for b in rows]})

    @extend_schema(
        operation_id="campaigns_create",
        description="Create a draft broadcast. Variants (at least two, one default) make "
        "it an A/B test of template, subject line and/or send time; `test_pool_percent` > 0 "
        "sends the variants to that share first and the winner on `winner_metric` to the "
        "rest after `winner_wait_hours`.",
        request=BroadcastSerializer,
        responses={
            201: BroadcastSerializer,
            409: OpenApiResponse(description="Name taken"),
            **ERRORS,
        },
    )
    def post(self, request: ApiRequest) -> Response:
        broadcast = services.broadcast_create(
            workspace=request.workspace, data=request_object(request.data), actor=request.actor
        )
        return Response(_out(request, broadcast.pk), status=status.HTTP_201_CREATED)


class BroadcastDetailView(APIView):
    @extend_schema(
        operation_id="campaigns_retrieve", responses={200: BroadcastSerializer, **ERRORS}
    )
    def get(self, request: ApiRequest, broadcast_id: int) -> Response:
        return Response(_out(request, broadcast_id))

    @extend_schema(
        operation_id="campaigns_update",
        description="Edit a draft (409 once it is scheduled: pause or cancel it instead).",
        request=BroadcastSerializer,
        responses={
            200: BroadcastSerializer,
            409: OpenApiResponse(description="Not a draft"),
            **ERRORS,
        },
    )
    def patch(self, request: ApiRequest, broadcast_id: int) -> Response:
        broadcast = _broadcast_or_404(request, broadcast_id)
        services.broadcast_update(
            broadcast=broadcast, data=request_object(request.data), actor=request.actor
        )
        return Response(_out(request, broadcast.pk))


def _id_list(body: dict[str, Any], field: str) -> list[int]:
    value = body.get(field)
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and 0 < v < 2**63 for v in value
    ):
        raise field_errors({field: ["must be a list of ids"]})
    return value


class AudienceCountView(APIView):
    @extend_schema(
        operation_id="campaigns_audience_count",
        description="Preview: how many contacts an audience would reach now (each contact "
        "once, however many included segments or stages it is in; exclusions win; only "
        "contacts with consent for the channel). The ids are checked as on create: an "
        "id that is not one of this workspace's segments or stages is a 400 naming the "
        "field.",
        request=AudienceRequestSerializer,
        responses={200: AudienceCountSerializer, **ERRORS},
    )
    def post(self, request: ApiRequest) -> Response:
        body = request_object(request.data)
        unknown = sorted(set(body) - set(AudienceRequestSerializer().fields))
        if unknown:
            raise field_errors({key: ["unknown field"] for key in unknown})
        for field in definition.ID_LISTS:
            _id_list(body, field)  # the API takes ids as JSON numbers only
        audience = definition.audience_validate(workspace=request.workspace, data=body)
        return Response({"count": audience_count(workspace=request.workspace, audience=audience)})


class BroadcastAudienceCountView(APIView):
    @extend_schema(
        operation_id="campaigns_recipient_count",
        description="How many contacts this broadcast's audience reaches now.",
        responses={200: AudienceCountSerializer, **ERRORS},
    )
    def get(self, request: ApiRequest, broadcast_id: int) -> Response:
        broadcast = _broadcast_or_404(request, broadcast_id)
        count = audience_count(workspace=request.workspace, audience=broadcast_audience(broadcast))
        return Response({"count": count})


def _action(name: str, service: Any, description: str) -> type[APIView]:
    return status_action_view(
        noun="broadcast",
        operation=f"campaigns_{name}",
        service=service,
        description=description,
        serializer=BroadcastSerializer,
        get=_broadcast_or_404,
        show=_out,
    )


BroadcastScheduleView = _action(
    "schedule",
    services.broadcast_schedule,
    "Draft → scheduled: the recipients are put into the outbox by a worker, each due "
    "at the broadcast's time (or their local time), spread by the throttle.",
)
BroadcastPauseView = _action(
    "pause",
    services.broadcast_pause,
    "Hold every message not yet handed to a provider.",
)
BroadcastResumeView = _action(
    "resume",
    services.broadcast_resume,
    "Release held messages. Messages already sent are never sent again.",
)
BroadcastCancelView = _action(
    "cancel",
    services.broadcast_cancel,
    "Stop for good: unsent messages are suppressed with the reason.",
)
