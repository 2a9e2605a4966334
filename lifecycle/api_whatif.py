"""REST API v1: what-if before saving a stage rule (lifecycle/whatif.py)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import request_object
from config.errors import NotFound
from config.openapi import ERRORS, described, text
from contacts.api_segments import RULE
from lifecycle.models import WhatIfRun
from lifecycle.services.stages import KEY
from lifecycle.services.whatif import whatif_funnel_start
from lifecycle.whatif import proposal_parse, whatif_now, whatif_run_get
from workspaces.api_auth import ApiRequest

_KEY = {"type": "string", "pattern": KEY.pattern}


class ProposedStageSerializer(serializers.Serializer):
    key = described(_KEY, help_text="an existing stage's key, or a new one")
    name = described(text(100, blank=False), required=False, help_text="new stages only")
    rule = described({**RULE, "nullable": True, "description": "null on the default stage"})


class StagePreviewRequestSerializer(serializers.Serializer):
    stage = described(
        _KEY,
        required=False,
        help_text="one stage's key, with `rule`: that stage's proposed entry rule "
        "(a key the workspace does not have is a new stage, before the default)",
    )
    rule = described(RULE, required=False)
    name = described(text(100, blank=False), required=False, help_text="a new stage's name")
    stages = ProposedStageSerializer(
        many=True,
        required=False,
        help_text="instead of stage and rule: every stage in evaluation order "
        "(those left out are removed; the default stays last)",
    )


class StageMoveSerializer(serializers.Serializer):
    from_ = serializers.CharField(allow_null=True, help_text="null: not evaluated yet")
    from_name = serializers.CharField(allow_null=True)
    to = serializers.CharField()
    to_name = serializers.CharField()
    contacts = serializers.IntegerField()

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class StagePreviewSampleSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.CharField(allow_null=True)
    name = serializers.CharField()
    from_ = serializers.CharField(allow_null=True)
    from_name = serializers.CharField(allow_null=True)
    to = serializers.CharField()
    to_name = serializers.CharField()

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class StagePreviewSerializer(serializers.Serializer):
    computed_at = serializers.DateTimeField()
    contacts = serializers.IntegerField(help_text="the workspace's contacts")
    moving = serializers.IntegerField(help_text="would move to another stage")
    staying = serializers.IntegerField(help_text="would stay where they are")
    held_by_pins = serializers.IntegerField(
        help_text="would move by the rules but are pinned where they are"
    )
    moves = StageMoveSerializer(
        many=True, help_text="from→to with counts, non-zero only, most first"
    )
    held = StageMoveSerializer(many=True, help_text="the moves pins hold back")
    sample = StagePreviewSampleSerializer(
        many=True, help_text="up to 20 moving contacts, across the moves"
    )


class WhatIfRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(WhatIfRun.Status.values)
    steps_done = serializers.IntegerField()
    steps_total = serializers.IntegerField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    result = described(
        {
            "type": "object",
            "nullable": True,
            "description": 'when done: {"stages": [{"key", "name"}], "months": [{"month_end", '
            '"current": {key: contacts}, "proposed": {key: contacts}}]}',
        }
    )


def run_to_dict(run: WhatIfRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "status": run.status,
        "steps_done": run.steps_done,
        "steps_total": run.steps_total,
        "error": run.error,
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "result": run.result,
    }


_EXAMPLE = OpenApiExample(
    "One stage's new rule",
    value={"stage": "repeat", "rule": {"purchases": {"gte": 3}}},
    request_only=True,
)


class StagePreviewView(APIView):
    @extend_schema(
        operation_id="stages_preview",
        description="What a stage rule change would do, before it is saved: for the "
        "workspace's contacts now, how many would move from which stage to which, how "
        "many stay, how many pins hold, and a sample of those moving. Checked as a save "
        "is (a bad rule is a 400 naming its path); nothing is written.",
        request=StagePreviewRequestSerializer,
        responses={200: StagePreviewSerializer, **ERRORS},
        examples=[_EXAMPLE],
    )
    def post(self, request: ApiRequest) -> Response:
        proposal = proposal_parse(workspace=request.workspace, body=request_object(request.data))
        return Response(whatif_now(workspace=request.workspace, proposal=proposal))


class StagePreviewFunnelView(APIView):
    @extend_schema(
        operation_id="stages_preview_funnel_create",
        description="Start computing, in the background, the funnel (contacts per "
        "stage) at each of the last 12 month ends under the proposed rules and under "
        "the current ones, from the events that had happened by each month end. Poll "
        "the run it returns.",
        request=StagePreviewRequestSerializer,
        responses={202: WhatIfRunSerializer, **ERRORS},
        examples=[_EXAMPLE],
    )
    def post(self, request: ApiRequest) -> Response:
        proposal = proposal_parse(workspace=request.workspace, body=request_object(request.data))
        run = whatif_funnel_start(
            workspace=request.workspace, proposal=proposal, actor=request.actor
        )
        return Response(run_to_dict(run), status=status.HTTP_202_ACCEPTED)


class StagePreviewFunnelDetailView(APIView):
    @extend_schema(
        operation_id="stages_preview_funnel_retrieve",
        responses={200: WhatIfRunSerializer, **ERRORS},
    )
    def get(self, request: ApiRequest, whatif_run_id: int) -> Response:
        run = whatif_run_get(workspace=request.workspace, run_id=whatif_run_id)
        if run is None:
            raise NotFound("No such what-if run.")
        return Response(run_to_dict(run))
