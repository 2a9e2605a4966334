"""REST API v1 for journeys (`/api/v1/journeys/`): list, create, retrieve with per-step
counts, edit (live too: the response says how many contacts were moved or taken out),
the schedule / pause / resume / cancel actions, and adding contacts by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.journeys import services
from campaigns.journeys.models import StepKind, TriggerKind
from campaigns.journeys.triggers import enrol_api
from campaigns.models import Journey
from config.actions import status_action_view
from config.api import request_object
from config.errors import Conflict, NotFound, field_errors
from config.openapi import ERRORS, described, text
from config.pagination import ResultsList
from config.query import MOMENT_PATTERN, utc_offset_problem
from contacts.api_segments import RULE
from contacts.models import Contact
from workspaces.api_auth import ApiRequest

ENROL_MAX = 10_000


class StepSerializer(serializers.Serializer):
    key = serializers.SlugField(
        max_length=40, help_text="Stable within the journey; successors name it"
    )
    kind = serializers.ChoiceField(choices=StepKind.choices)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    config = serializers.DictField(
        help_text='Settings of the kind, with successors: "next"; "yes"/"no" (branch); '
        '"timeout_next" (wait_for); "paths": [{"label", "weight", "next"}] (split); '
        '"variants": [{"label", "template_id", "weight", "next"}] (an A/B send: each '
        "variant's own next step, else the step's \"next\"). "
        'send_survey: {"survey_id", "channel": "email"|"sms", "next"}'
    )


class StepCountsSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField()
    kind = serializers.CharField()
    removed = serializers.BooleanField()
    entered = serializers.IntegerField()
    waiting = serializers.IntegerField()
    exited = serializers.IntegerField(help_text="Left the journey at this step")
    converted = serializers.IntegerField(help_text="Reached the goal while at this step")


class JourneySerializer(serializers.ModelSerializer):
    steps = serializers.SerializerMethodField()
    counts = serializers.SerializerMethodField()
    totals = serializers.SerializerMethodField()

    class Meta:
        model = Journey
        fields = [
            "id",
            "name",
            "description",
            "status",
            "trigger",
            "entry_key",
            "steps",
            "goal",
            "goal_days",
            "exit_rule",
            "exit_on_stage_left",
            "exit_on_unsubscribe",
            "reentry",
            "reentry_days",
            "holdout_percent",
            "live_since",
            "version",
            "counts",
            "totals",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @staticmethod
    def _live_steps(journey: Journey) -> list[Any]:
        return [s for s in journey.steps.all() if s.removed_at is None]

    def get_steps(self, journey: Journey) -> list[dict[str, Any]]:
        return [
            {"key": s.key, "kind": s.kind, "name": s.name, "config": s.config}
            for s in self._live_steps(journey)
        ]

    def get_counts(self, journey: Journey) -> list[dict[str, Any]]:
        return services.journey_step_counts(journey)

    def get_totals(self, journey: Journey) -> dict[str, Any]:
        return services.journey_totals(journey)


def _journey_or_404(request: ApiRequest, journey_id: Any) -> Journey:
    journey = (
        Journey.objects.filter(workspace=request.workspace, pk=journey_id)
        .select_related("workspace")
        .first()
    )
    if journey is None:
        raise NotFound("No such journey.")
    return journey


def _out(request: ApiRequest, journey_id: int) -> dict[str, Any]:
    return dict(JourneySerializer(_journey_or_404(request, journey_id)).data)


WRITE = inline_serializer(
    "JourneyWrite",
    {
        "name": described(text(200, blank=False)),
        "description": described(text(2000), required=False),
        "trigger": described(
            {
                "type": "object",
                "required": ["kind"],
                "properties": {"kind": {"type": "string", "enum": list(TriggerKind.values)}},
            },
            help_text='{"kind": "stage_entered"|"stage_exited", "stage_id"}; {"kind": "event", '
            '"event", "properties"}; {"kind": "date_attribute", "attribute", "offset_days", '
            '"annual"}; {"kind": "segment_joined", "segment_id"}; {"kind": "survey_answered", '
            '"survey_id" (null: any survey), "category": "promoter"|"passive"|"detractor"|'
            '"satisfied"|"unsatisfied" (optional), "score_min", "score_max" (optional)}; '
            '{"kind": "tier_changed", "tier_id" (null: any), "direction": "up"|"down"|""}; '
            '{"kind": "points_earned", "min_points" (optional)}; {"kind": "points_expiring"}; '
            '{"kind": "reward_redeemed", "reward_id" (null: any)}; '
            '{"kind": "referral_converted", "side": "referrer"|"friend" (who enters; default '
            'referrer)}; {"kind": "manual"}',
        ),
        "steps": serializers.ListField(child=StepSerializer(), min_length=1, max_length=100),
        "entry_key": serializers.SlugField(
            required=False, max_length=40, help_text="the first step (default: the first listed)"
        ),
        "goal": described(
            {
                "type": "object",
                "nullable": True,
                "minProperties": 1,
                "maxProperties": 1,
                "additionalProperties": False,
                "properties": {"rule": RULE, "event": {"type": "object"}},
            },
            required=False,
            help_text='{"rule": ...} or {"event": {"name", "properties"}}',
        ),
        "goal_days": serializers.IntegerField(required=False, min_value=1, max_value=365),
        "exit_rule": described({**RULE, "nullable": True}, required=False),
        "exit_on_stage_left": serializers.BooleanField(required=False),
        "exit_on_unsubscribe": serializers.BooleanField(required=False),
        "reentry": serializers.ChoiceField(choices=["once", "cooldown", "always"], required=False),
        "reentry_days": serializers.IntegerField(required=False, min_value=0, max_value=3650),
        "holdout_percent": serializers.IntegerField(required=False, min_value=0, max_value=50),
        "move_removed_to": serializers.SlugField(
            required=False,
            max_length=40,
            help_text="Editing steps (only with steps): contacts on removed steps move to this "
            "step (else they exit)",
        ),
    },
)


class JourneyListView(APIView):
    pagination_class = ResultsList

    @extend_schema(operation_id="journeys_list", responses={200: JourneySerializer(many=True)})
    def get(self, request: ApiRequest) -> Response:
        rows = Journey.objects.filter(workspace=request.workspace).order_by("-id")[:200]
        return Response({"results": [JourneySerializer(j).data for j in rows]})

    @extend_schema(
        operation_id="journeys_create",
        description="Create a draft journey; `schedule` makes it live.",
        request=WRITE,
        responses={
            201: JourneySerializer,
            409: OpenApiResponse(description="Name taken"),
            **ERRORS,
        },
    )
    def post(self, request: ApiRequest) -> Response:
        journey = services.journey_create(
            workspace=request.workspace, data=request_object(request.data), actor=request.actor
        )
        return Response(_out(request, journey.pk), status=status.HTTP_201_CREATED)


class JourneyDetailView(APIView):
    @extend_schema(operation_id="journeys_retrieve", responses={200: JourneySerializer, **ERRORS})
    def get(self, request: ApiRequest, journey_id: int) -> Response:
        return Response(_out(request, journey_id))

    @extend_schema(
        operation_id="journeys_update",
        description="Edit, live or not. Steps kept (same key and kind) keep their contacts; "
        "contacts on a removed step exit, or move to `move_removed_to`. `edit` in the "
        "response counts them.",
        request=WRITE,
        responses={200: JourneySerializer, 409: OpenApiResponse(description="Cancelled"), **ERRORS},
    )
    def patch(self, request: ApiRequest, journey_id: int) -> Response:
        journey = _journey_or_404(request, journey_id)
        _, counts = services.journey_update(
            journey=journey, data=request_object(request.data), actor=request.actor
        )
        return Response({**_out(request, journey.pk), "edit": counts})


def _start_at(body: dict[str, Any]) -> dt.datetime | None:
    unknown = sorted(set(body) - {"start_at"})
    if unknown:
        raise field_errors({key: ["unknown field"] for key in unknown})
    raw = body.get("start_at")
    if raw in (None, ""):
        return None
    try:
        value = parse_datetime(raw) if isinstance(raw, str) else None
    except ValueError:  # well formed but not a moment, e.g. 12:99
        value = None
    if value is None or value.tzinfo is None or utc_offset_problem(value):
        raise field_errors(
            {"start_at": ["must be an ISO 8601 date-time with a UTC offset of at most 15:59"]}
        )
    return value


class JourneyScheduleView(APIView):
    @extend_schema(
        operation_id="journeys_schedule",
        description="Draft → live: triggers count from `start_at` (default now).",
        request=inline_serializer(
            "JourneySchedule",
            {
                "start_at": described(
                    {
                        "type": "string",
                        "format": "date-time",
                        "nullable": True,
                        "pattern": MOMENT_PATTERN,
                    },
                    required=False,
                    help_text="with a UTC offset; not in the past (default: now)",
                )
            },
        ),
        responses={
            200: JourneySerializer,
            409: OpenApiResponse(description="Not a draft"),
            **ERRORS,
        },
    )
    def post(self, request: ApiRequest, journey_id: int) -> Response:
        journey = _journey_or_404(request, journey_id)
        body = request_object(request.data or {})
        services.journey_schedule(journey=journey, actor=request.actor, start_at=_start_at(body))
        return Response(_out(request, journey.pk))


def _action(name: str, service: Any, description: str) -> type[APIView]:
    return status_action_view(
        noun="journey",
        operation=f"journeys_{name}",
        service=service,
        description=description,
        serializer=JourneySerializer,
        get=_journey_or_404,
        show=_out,
    )


JourneyPauseView = _action(
    "pause", services.journey_pause, "No one enters or moves; due steps run on resume."
)
JourneyResumeView = _action("resume", services.journey_resume, "Paused → live.")
JourneyCancelView = _action(
    "cancel",
    services.journey_cancel,
    "Stop for good: everyone inside exits and their unsent messages are suppressed.",
)


class JourneyEnrolView(APIView):
    @extend_schema(
        operation_id="journeys_enrol",
        description="Add contacts to a live journey by id (any trigger). The re-entry "
        "policy applies; `key` makes a retry of the same request add no one twice.",
        request=inline_serializer(
            "JourneyEnrol",
            {
                "contact_ids": serializers.ListField(
                    child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
                    min_length=1,
                    max_length=ENROL_MAX,
                    help_text="contacts of this workspace",
                ),
                "key": serializers.CharField(required=False, allow_blank=True, max_length=60),
            },
        ),
        responses={
            200: inline_serializer("JourneyEnrolled", {"enrolled": serializers.IntegerField()}),
            409: OpenApiResponse(description="Not live"),
            **ERRORS,
        },
    )
    def post(self, request: ApiRequest, journey_id: int) -> Response:
        journey = _journey_or_404(request, journey_id)
        body = request_object(request.data)
        unknown = sorted(set(body) - {"contact_ids", "key"})
        if unknown:
            raise field_errors({k: ["unknown field"] for k in unknown})
        ids = body.get("contact_ids")
        if (
            not isinstance(ids, list)
            or not 1 <= len(ids) <= ENROL_MAX
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
        ):
            raise field_errors({"contact_ids": [f"must be a list of 1 to {ENROL_MAX} ids"]})
        key = body.get("key", "")
        if not isinstance(key, str) or len(key) > 60:
            raise field_errors({"key": ["must be text of at most 60 characters"]})
        known = set(
            Contact.objects.filter(workspace=request.workspace, pk__in=ids).values_list(
                "pk", flat=True
            )
        )
        unknown = sorted(set(ids) - known)
        if unknown:
            raise field_errors({"contact_ids": [f"no such contact: {unknown[:10]}"]})
        if journey.status != "live":
            raise Conflict(f"This journey is {journey.status}; only a live journey takes contacts.")
        return Response({"enrolled": enrol_api(journey, sorted(known), key)})
