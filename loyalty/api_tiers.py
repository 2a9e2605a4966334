"""REST API v1 for loyalty tiers: the tier list (CRUD) and a contact's tier moves."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import request_object
from config.errors import NotFound
from config.openapi import ERRORS
from config.pagination import KeysetPagination, ResultsList, keyset_response
from loyalty import selectors, services
from loyalty.api import _contact_or_404
from loyalty.api_serializers import TierChangeSerializer, TierSerializer
from loyalty.models import Tier
from workspaces.api_auth import ApiRequest

TAKEN = OpenApiResponse(description="A tier has this name or threshold")


def tier_to_dict(tier: Tier) -> dict[str, Any]:
    # Decimals travel as strings ("1.5"), like the programme's.
    return {**TierSerializer(tier).data, "multiplier": str(tier.multiplier)}


def _tier_or_404(request: ApiRequest, tier_id: Any) -> Tier:
    tier = selectors.tier_get(workspace=request.workspace, tier_id=tier_id)
    if tier is None:
        raise NotFound("No such tier.")
    return tier


class TierListView(APIView):
    pagination_class = ResultsList

    @extend_schema(
        operation_id="loyalty_tiers_list", responses={200: TierSerializer(many=True), **ERRORS}
    )
    def get(self, request: ApiRequest) -> Response:
        tiers = selectors.tiers_for_workspace(workspace=request.workspace)
        return Response({"results": [tier_to_dict(t) for t in tiers]})

    @extend_schema(
        operation_id="loyalty_tiers_create",
        description="A new tier: contacts reach it as they earn, or at the daily review.",
        request=TierSerializer,
        responses={201: TierSerializer, 409: TAKEN, **ERRORS},
    )
    def post(self, request: ApiRequest) -> Response:
        tier = services.tier_create(
            workspace=request.workspace, data=request_object(request.data), actor=request.actor
        )
        return Response(
            tier_to_dict(_tier_or_404(request, tier.pk)), status=status.HTTP_201_CREATED
        )


class TierDetailView(APIView):
    @extend_schema(operation_id="loyalty_tiers_retrieve", responses={200: TierSerializer, **ERRORS})
    def get(self, request: ApiRequest, tier_id: int) -> Response:
        return Response(tier_to_dict(_tier_or_404(request, tier_id)))

    @extend_schema(
        operation_id="loyalty_tiers_update",
        description="Change a tier; contacts move at the next review (or up as they earn).",
        request=TierSerializer,
        responses={200: TierSerializer, 409: TAKEN, **ERRORS},
    )
    def patch(self, request: ApiRequest, tier_id: int) -> Response:
        tier = services.tier_update(
            tier=_tier_or_404(request, tier_id),
            data=request_object(request.data),
            actor=request.actor,
        )
        return Response(tier_to_dict(_tier_or_404(request, tier.pk)))

    @extend_schema(
        operation_id="loyalty_tiers_delete",
        description="Delete a tier. Its members move at once to the tier below it (none "
        "when it was the lowest), each move recorded with cause `removed`.",
        responses={204: None, **ERRORS},
    )
    def delete(self, request: ApiRequest, tier_id: int) -> Response:
        services.tier_delete(tier=_tier_or_404(request, tier_id), actor=request.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ContactTierChangesView(APIView):
    pagination_class = KeysetPagination

    @extend_schema(
        operation_id="loyalty_contact_tier_changes",
        description="The contact's moves between tiers, newest first, with their cause.",
        responses={200: TierChangeSerializer(many=True), **ERRORS},
    )
    def get(self, request: ApiRequest, contact_id: int) -> Response:
        contact = _contact_or_404(request, contact_id)
        return keyset_response(
            request,
            selectors.tier_changes_for_contact(contact=contact),
            keys=["-id"],
            item=lambda change: dict(TierChangeSerializer(change).data),
        )
