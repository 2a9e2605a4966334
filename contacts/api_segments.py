"""REST API v1 for segments: CRUD, live preview of a rule, and a segment's contacts."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import request_object
from config.errors import InvalidInput, NotFound
from config.openapi import ERRORS, described, text
from config.pagination import (
    KeysetPagination,
    ResultsList,
    keyset_response,
)
from contacts import selectors, services
from contacts.models import Segment
from contacts.rules import contacts_matching, matching_count, validate_rule
from contacts.serializers import ContactSerializer, contact_to_dict
from workspaces.api_auth import ApiRequest

SAMPLE_SIZE = 10


RULE = {
    "type": "object",
    "description": "a rule of the rule language (docs/rules.md), checked as a whole: a bad "
    "node is a 400 naming its path, e.g. rule.all[2].event.count",
}


class SegmentSerializer(serializers.ModelSerializer):
    name = described(text(200, blank=False))
    description = described(text(2000), required=False)
    rule = described(RULE)

    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "description",
            "rule",
            "members_ready",
            "member_count",
            "created_at",
            "updated_at",
        ]
        # member_count is the stored count, right when members_ready (a worker builds
        # the members of a new or edited rule; the preview counts live meanwhile).
        read_only_fields = ["id", "members_ready", "member_count", "created_at", "updated_at"]


class PreviewRequestSerializer(serializers.Serializer):
    rule = described(RULE)


class PreviewSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    sample = ContactSerializer(many=True)


def segment_to_dict(segment: Segment) -> dict[str, Any]:
    return dict(SegmentSerializer(segment).data)


def preview(workspace: Any, rule: Any) -> dict[str, Any]:
    """How many contacts a rule matches now, and the newest few of them."""
    validate_rule(rule, workspace=workspace)
    matching = contacts_matching(rule, workspace=workspace, validate=False)
    return {
        "count": matching_count(matching),
        "sample": [contact_to_dict(c) for c in matching.order_by("-pk")[:SAMPLE_SIZE]],
    }


def _segment_or_404(request: ApiRequest, segment_id: Any) -> Segment:
    segment = selectors.segment_get(workspace=request.workspace, segment_id=segment_id)
    if segment is None:
        raise NotFound("No such segment.")
    return segment


class SegmentListView(APIView):
    pagination_class = ResultsList

    @extend_schema(
        operation_id="segments_list", responses={200: SegmentSerializer(many=True), **ERRORS}
    )
    def get(self, request: ApiRequest) -> Response:
        segments = selectors.segments_for_workspace(workspace=request.workspace)
        return Response({"results": [segment_to_dict(s) for s in segments]})

    @extend_schema(
        operation_id="segments_create",
        request=SegmentSerializer,
        responses={
            201: SegmentSerializer,
            409: OpenApiResponse(description="A segment has this name"),
            **ERRORS,
        },
    )
    def post(self, request: ApiRequest) -> Response:
        segment = services.segment_create(
            workspace=request.workspace, data=request_object(request.data), actor=request.actor
        )
        return Response(segment_to_dict(segment), status=status.HTTP_201_CREATED)


class SegmentDetailView(APIView):
    @extend_schema(operation_id="segments_retrieve", responses={200: SegmentSerializer, **ERRORS})
    def get(self, request: ApiRequest, segment_id: int) -> Response:
        return Response(segment_to_dict(_segment_or_404(request, segment_id)))

    @extend_schema(
        operation_id="segments_update",
        request=SegmentSerializer,
        responses={
            200: SegmentSerializer,
            409: OpenApiResponse(description="A segment has this name"),
            **ERRORS,
        },
    )
    def patch(self, request: ApiRequest, segment_id: int) -> Response:
        segment = services.segment_update(
            segment=_segment_or_404(request, segment_id),
            data=request_object(request.data),
            actor=request.actor,
        )
        return Response(segment_to_dict(segment))

    @extend_schema(
        operation_id="segments_delete",
        responses={
            204: None,
            409: OpenApiResponse(description="A stage, journey or other segment uses it"),
            **ERRORS,
        },
    )
    def delete(self, request: ApiRequest, segment_id: int) -> Response:
        services.segment_delete(segment=_segment_or_404(request, segment_id), actor=request.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SegmentPreviewView(APIView):
    @extend_schema(
        operation_id="segments_preview",
        description="Count and a sample of the contacts a rule matches now, "
        "without saving it. A bad rule is a 400 naming the path of each bad "
        "node, e.g. rule.all[2].event.count.",
        request=PreviewRequestSerializer,
        responses={200: PreviewSerializer, **ERRORS},
    )
    def post(self, request: ApiRequest) -> Response:
        body = request_object(request.data)
        if "rule" not in body:
            raise InvalidInput("rule is required.", fields={"rule": ["is required"]})
        return Response(preview(request.workspace, body["rule"]))


class SegmentContactsView(APIView):
    pagination_class = KeysetPagination

    @extend_schema(
        operation_id="segments_contacts",
        responses={200: ContactSerializer(many=True), **ERRORS},
    )
    def get(self, request: ApiRequest, segment_id: int) -> Response:
        segment = _segment_or_404(request, segment_id)
        return keyset_response(
            request,
            contacts_matching(segment.rule, workspace=request.workspace, validate=False),
            keys=["-id"],
            item=contact_to_dict,
        )
