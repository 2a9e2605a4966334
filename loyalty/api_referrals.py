"""REST API v1 for referrals: the programme's settings, the referrals (list, one,
approve or reject a flagged one) and a contact's code, link and counts. Every id of
another workspace is a 404; bad input a 400 naming the field."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import request_object
from config.errors import NotFound
from config.openapi import ERRORS, described, text
from config.pagination import KeysetPagination, keyset_response
from config.query import enum_param, id_param, openapi, query_values
from loyalty import selectors_referrals as selectors
from loyalty.api import _contact_or_404
from loyalty.models import Referral, ReferralSettings, ReferralStatus
from loyalty.services.ledger import MAX_POINTS
from loyalty.services.referrals import (
    AMOUNT_PATTERN,
    MAX_HOLD_DAYS,
    MAX_MONTHLY_LIMIT,
    MAX_WITHIN_DAYS,
    SIGNUP_URL_PATTERN,
    referral_code_ensure,
    referral_settings_get,
    referral_settings_update,
)
from loyalty.services.referrals_payout import referral_review
from workspaces.api_auth import ApiRequest

LIST_PARAMS = [
    enum_param("status", ReferralStatus.values),
    id_param("referrer_id", "only this referrer's referrals"),
]
NOT_FLAGGED = OpenApiResponse(description="The referral is not waiting for review")


class ReferralSettingsSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(required=False)
    stage_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        help_text="Stages whose contacts get a code (ids of this workspace); empty: all",
    )
    qualifying_event = described(
        text(200), required=False, help_text="Blank: any of the workspace's purchase events"
    )
    min_amount = described(
        {"type": "string", "pattern": AMOUNT_PATTERN},
        required=False,
        help_text='Minimum revenue of the qualifying purchase, as a string ("25.00")',
    )
    within_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_WITHIN_DAYS
    )
    referrer_points = serializers.IntegerField(required=False, min_value=0, max_value=MAX_POINTS)
    referrer_reward_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    friend_points = serializers.IntegerField(required=False, min_value=0, max_value=MAX_POINTS)
    friend_reward_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    hold_days = serializers.IntegerField(required=False, min_value=0, max_value=MAX_HOLD_DAYS)
    monthly_limit = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_MONTHLY_LIMIT
    )
    signup_url = described(
        {"type": "string", "maxLength": 500, "pattern": f"^({SIGNUP_URL_PATTERN[1:-1]})?$"},
        required=False,
        help_text="The business's signup form (http or https); blank: none",
    )
    updated_at = serializers.DateTimeField(read_only=True)


class ReferralSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    referrer_id = serializers.IntegerField()
    referred_id = serializers.IntegerField()
    code = serializers.CharField()
    status = serializers.ChoiceField(ReferralStatus.choices)
    flags = serializers.ListField(child=serializers.DictField())
    created_at = serializers.DateTimeField()
    converted_at = serializers.DateTimeField(allow_null=True)
    order_id = serializers.CharField()
    hold_until = serializers.DateTimeField(allow_null=True)
    referrer_rewarded = serializers.BooleanField()
    friend_rewarded = serializers.BooleanField()
    paid_at = serializers.DateTimeField(allow_null=True)
    reviewed_at = serializers.DateTimeField(allow_null=True)
    reviewed_by = serializers.CharField()
    reversed_at = serializers.DateTimeField(allow_null=True)
    details = serializers.DictField()


class ContactReferralSerializer(serializers.Serializer):
    contact_id = serializers.IntegerField()
    code = serializers.CharField(allow_null=True)
    link = serializers.CharField(allow_null=True)
    sent = serializers.IntegerField()
    converted = serializers.IntegerField()
    paid = serializers.IntegerField()
    flagged = serializers.IntegerField()
    referred_by = serializers.IntegerField(allow_null=True, help_text="the referrer's id")


def settings_to_dict(row: ReferralSettings) -> dict[str, Any]:
    return {
        "enabled": row.enabled,
        "stage_ids": row.stage_ids,
        "qualifying_event": row.qualifying_event,
        "min_amount": str(row.min_amount),
        "within_days": row.within_days,
        "referrer_points": row.referrer_points,
        "referrer_reward_id": row.referrer_reward_id,
        "friend_points": row.friend_points,
        "friend_reward_id": row.friend_reward_id,
        "hold_days": row.hold_days,
        "monthly_limit": row.monthly_limit,
        "signup_url": row.signup_url,
        "updated_at": row.updated_at,
    }


def referral_to_dict(referral: Referral) -> dict[str, Any]:
    return dict(ReferralSerializer(referral).data)


def _referral_or_404(request: ApiRequest, referral_id: Any) -> Referral:
    referral = selectors.referral_get(workspace=request.workspace, referral_id=referral_id)
    if referral is None:
        raise NotFound("No such referral.")
    return referral


class ReferralSettingsView(APIView):
    @extend_schema(
        operation_id="loyalty_referral_settings_retrieve",
        responses={200: ReferralSettingsSerializer, **ERRORS},
    )
    def get(self, request: ApiRequest) -> Response:
        return Response(settings_to_dict(referral_settings_get(workspace=request.workspace)))

    @extend_schema(
        operation_id="loyalty_referral_settings_update",
        request=ReferralSettingsSerializer,
        responses={200: ReferralSettingsSerializer, **ERRORS},
    )
    def patch(self, request: ApiRequest) -> Response:
        row = referral_settings_update(
            workspace=request.workspace, data=request_object(request.data), actor=request.actor
        )
        return Response(settings_to_dict(row))


class ReferralListView(APIView):
    pagination_class = KeysetPagination

    @extend_schema(
        operation_id="loyalty_referrals_list",
        description="Referrals, newest first; `status=flagged` is the review queue.",
        parameters=openapi(LIST_PARAMS),
        responses={200: ReferralSerializer(many=True), **ERRORS},
    )
    def get(self, request: ApiRequest) -> Response:
        values = query_values(request.query_params, LIST_PARAMS)
        rows = selectors.referrals_for_workspace(
            workspace=request.workspace,
            status=values.get("status"),
            referrer_id=values.get("referrer_id"),
        )
        return keyset_response(request, rows, keys=["-id"], item=referral_to_dict)


class ReferralDetailView(APIView):
    @extend_schema(
        operation_id="loyalty_referrals_retrieve", responses={200: ReferralSerializer, **ERRORS}
    )
    def get(self, request: ApiRequest, referral_id: int) -> Response:
        return Response(referral_to_dict(_referral_or_404(request, referral_id)))


class _Review(APIView):
    approve = True

    def post(self, request: ApiRequest, referral_id: int) -> Response:
        referral = _referral_or_404(request, referral_id)
        referral = referral_review(referral=referral, approve=self.approve, actor=request.actor)
        return Response(referral_to_dict(referral))


class ReferralApproveView(_Review):
    approve = True

    @extend_schema(
        operation_id="loyalty_referrals_approve",
        description="Approve a flagged referral: it goes on as if it had not been flagged.",
        request=None,
        responses={200: ReferralSerializer, 409: NOT_FLAGGED, **ERRORS},
    )
    def post(self, request: ApiRequest, referral_id: int) -> Response:
        return super().post(request, referral_id)


class ReferralRejectView(_Review):
    approve = False

    @extend_schema(
        operation_id="loyalty_referrals_reject",
        description="Reject a flagged referral: it never pays.",
        request=None,
        responses={200: ReferralSerializer, 409: NOT_FLAGGED, **ERRORS},
    )
    def post(self, request: ApiRequest, referral_id: int) -> Response:
        return super().post(request, referral_id)


class ContactReferralView(APIView):
    @extend_schema(
        operation_id="contacts_referral",
        description="The contact's referral code and link (made on first use; null when "
        "the programme is off or the contact is not in the chosen stages) and counts.",
        responses={200: ContactReferralSerializer, **ERRORS},
    )
    def get(self, request: ApiRequest, contact_id: int) -> Response:
        contact = _contact_or_404(request, contact_id)
        code = referral_code_ensure(contact=contact)
        referred_by = (
            Referral.objects.filter(workspace=request.workspace, referred=contact)
            .values_list("referrer_id", flat=True)
            .first()
        )
        return Response(
            {
                "contact_id": contact.pk,
                "code": code.code if code else None,
                "link": selectors.referral_link_for(contact=contact) if code else None,
                **selectors.referral_counts(contact=contact),
                "referred_by": referred_by,
            }
        )
