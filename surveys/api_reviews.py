"""REST API v1 for reviews (`/api/v1/reviews/`): the list a business's site shows
(`?status=approved&product=SKU-1`), one review, moderation, and the CSV export."""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import request_object
from config.errors import NotFound, field_errors
from config.openapi import ERRORS
from config.pagination import KeysetPagination, keyset_response
from config.query import QueryParam, enum_param, id_param, openapi, query_values
from surveys.models import Review, ReviewStatus
from surveys.selectors_reviews import (
    ReviewFilters,
    review_get,
    reviews_csv_lines,
    reviews_for_workspace,
)
from surveys.services import review_moderate
from workspaces.api_auth import ApiRequest

PARAMS = [
    enum_param("status", ReviewStatus.values, "pending, approved or rejected"),
    QueryParam(
        "product",
        {"type": "string", "minLength": 1, "maxLength": 200},
        "a product's id (or an order's id): its reviews",
    ),
    id_param("survey", "the review request survey's id"),
    QueryParam("rating", {"type": "integer", "minimum": 1, "maximum": 5}, "stars, 1 to 5"),
]


class ReviewSerializer(serializers.ModelSerializer):
    survey_id = serializers.IntegerField()
    contact_id = serializers.IntegerField(allow_null=True)

    class Meta:
        model = Review
        fields = [
            "id",
            "survey_id",
            "contact_id",
            "item_kind",
            "item_id",
            "item_name",
            "order_id",
            "rating",
            "text",
            "author",
            "status",
            "moderated_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ModerateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[ReviewStatus.APPROVED, ReviewStatus.REJECTED])


def _filters(request: ApiRequest) -> ReviewFilters:
    values = query_values(request.query_params, PARAMS)
    return ReviewFilters(
        status=values.get("status"),
        survey_id=values.get("survey"),
        product=values.get("product"),
        rating=values.get("rating"),
    )


def _review_or_404(request: ApiRequest, review_id: int) -> Review:
    review = review_get(workspace=request.workspace, review_id=review_id)
    if review is None:
        raise NotFound("No such review.")
    return review


def _out(review: Review) -> dict[str, Any]:
    return dict(ReviewSerializer(review).data)


class ReviewListView(APIView):
    pagination_class = KeysetPagination

    @extend_schema(
        operation_id="reviews_list",
        description="Reviews, newest first. A site shows `?status=approved&product=<id>`.",
        parameters=openapi(PARAMS),
        responses={200: ReviewSerializer(many=True), **ERRORS},
    )
    def get(self, request: ApiRequest) -> Response:
        return keyset_response(
            request,
            reviews_for_workspace(workspace=request.workspace, filters=_filters(request)),
            keys=["-id"],
            item=_out,
        )


class ReviewDetailView(APIView):
    @extend_schema(operation_id="reviews_retrieve", responses={200: ReviewSerializer, **ERRORS})
    def get(self, request: ApiRequest, review_id: int) -> Response:
        return Response(_out(_review_or_404(request, review_id)))


class ReviewModerateView(APIView):
    @extend_schema(
        operation_id="reviews_moderate",
        description="Approve or reject a review (the same decision again changes nothing).",
        request=ModerateSerializer,
        responses={200: ReviewSerializer, **ERRORS},
    )
    def post(self, request: ApiRequest, review_id: int) -> Response:
        review = _review_or_404(request, review_id)
        body = request_object(request.data)
        unknown = sorted(set(body) - {"status"})
        if unknown:
            raise field_errors({key: ["unknown field"] for key in unknown})
        moderated = review_moderate(
            review=review, status=str(body.get("status", "")), actor=request.actor
        )
        return Response(_out(moderated))


class ReviewExportView(APIView):
    @extend_schema(
        operation_id="reviews_export",
        description="The reviews the filters select, as CSV. Cells starting with = + - @ "
        "are prefixed with ' so spreadsheets do not run them.",
        parameters=openapi(PARAMS),
        responses={(200, "text/csv"): OpenApiTypes.STR, **ERRORS},
    )
    def get(self, request: ApiRequest) -> StreamingHttpResponse:
        queryset = reviews_for_workspace(workspace=request.workspace, filters=_filters(request))
        response = StreamingHttpResponse(
            reviews_csv_lines(queryset), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="reviews.csv"'
        return response
