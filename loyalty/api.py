"""REST API v1 for loyalty: the programme's settings, a contact's points (balance,
history, adjustments, redemptions), the reward catalogue and its codes, and taking
back what an order earned. Shapes are in api_serializers.py; docs/loyalty.md says
what the numbers mean."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import request_object
from config.errors import NotFound
from config.openapi import ERRORS
from config.pagination import KeysetPagination, ResultsList, keyset_response
from contacts.models import Contact
from loyalty import selectors, services
from loyalty.api_serializers import (
    AdjustSerializer,
    BalanceSerializer,
    CodesAddedSerializer,
    EntrySerializer,
    ProgrammeSerializer,
    RedeemSerializer,
    RedemptionSerializer,
    ReversedSerializer,
    ReverseSerializer,
    RewardCodesSerializer,
    RewardSerializer,
)
from loyalty.models import LedgerEntry, Programme, Redemption, Reward
from loyalty.selectors_tiers import tier_measure, tier_rule_for
from workspaces.api_auth import ApiRequest

CONFLICT = OpenApiResponse(description="Conflicts with the balance, the reward or a key's use")


def programme_to_dict(programme: Programme) -> dict[str, Any]:
    return {
        "enabled": programme.enabled,
        "enabled_at": programme.enabled_at,
        "points_per_unit": str(programme.points_per_unit),
        "event_points": programme.event_points,
        "multipliers": programme.multipliers,
        "daily_cap": programme.daily_cap,
        "birthday_attribute": programme.birthday_attribute,
        "value_per_point": f"{programme.value_per_point:.4f}",
        "expiry_months": programme.expiry_months,
        "expiry_reminder_days": programme.expiry_reminder_days,
        "tier_grace_days": programme.tier_grace_days,
        "tier_basis": programme.tier_basis,
        "tier_window_days": programme.tier_window_days,
        "updated_at": programme.updated_at,
    }


def entry_to_dict(entry: LedgerEntry) -> dict[str, Any]:
    return dict(EntrySerializer(entry).data)


def reward_to_dict(reward: Reward) -> dict[str, Any]:
    return dict(RewardSerializer(reward).data)


def redemption_to_dict(redemption: Redemption) -> dict[str, Any]:
    return dict(RedemptionSerializer(redemption).data)


def _contact_or_404(request: ApiRequest, contact_id: Any) -> Contact:
    contact = selectors.contact_get(workspace=request.workspace, contact_id=contact_id)
    if contact is None:
        raise NotFound("No such contact.")
    return contact


def _reward_or_404(request: ApiRequest, reward_id: Any) -> Reward:
    reward = selectors.reward_get(workspace=request.workspace, reward_id=reward_id)
    if reward is None:
        raise NotFound("No such reward.")
    return reward


class ProgrammeView(APIView):
    @extend_schema(
        operation_id="loyalty_programme_retrieve",
        responses={200: ProgrammeSerializer, **ERRORS},
    )
    def get(self, request: ApiRequest) -> Response:
        return Response(programme_to_dict(services.programme_get(workspace=request.workspace)))

    @extend_schema(
        operation_id="loyalty_programme_update",
        description="Change the programme's settings; switching it on starts earning from "
        "events that happen from then on.",
        request=ProgrammeSerializer,
        responses={200: ProgrammeSerializer, **ERRORS},
    )
    def patch(self, request: ApiRequest) -> Response:
        programme = services.programme_update(
            workspace=request.workspace, data=request_object(request.data), actor=request.actor
        )
        return Response(programme_to_dict(programme))


class ContactPointsView(APIView):
    @extend_schema(
        operation_id="loyalty_contact_points",
        description="The contact's balance (0 for a contact that never had points).",
        responses={200: BalanceSerializer, **ERRORS},
    )
    def get(self, request: ApiRequest, contact_id: int) -> Response:
        contact = _contact_or_404(request, contact_id)
        balance = selectors.balance_for(contact=contact)
        tier = selectors.contact_tier(contact=contact)
        return Response(
            {
                "contact_id": balance.contact_id,
                "balance": balance.balance,
                "earned_total": balance.earned_total,
                "redeemed_total": balance.redeemed_total,
                "updated_at": balance.updated_at if balance.pk else None,
                "tier": tier.tier.name if tier and tier.tier else None,
                "tier_since": tier.since if tier and tier.tier else None,
                # Live, as the member page shows it: earning writes a tier row only
                # when it moves the contact (services/tiers.py).
                "points_in_window": tier_measure(
                    workspace_id=contact.workspace_id,
                    contact_ids=[contact.pk],
                    rule=tier_rule_for(workspace_id=contact.workspace_id),
                    now=timezone.now(),
                )[contact.pk],
                "tier_basis": services.programme_get(workspace=request.workspace).tier_basis,
            }
        )


class ContactEntriesView(APIView):
    pagination_class = KeysetPagination

    @extend_schema(
        operation_id="loyalty_contact_entries",
        description="The contact's ledger, newest first.",
        responses={200: EntrySerializer(many=True), **ERRORS},
    )
    def get(self, request: ApiRequest, contact_id: int) -> Response:
        contact = _contact_or_404(request, contact_id)
        return keyset_response(
            request,
            selectors.entries_for_contact(contact=contact),
            keys=["-id"],
            item=entry_to_dict,
        )


class ContactAdjustView(APIView):
    @extend_schema(
        operation_id="loyalty_contact_adjust",
        description="Add or take points by hand with a reason. 201 with the entry; 200 with "
        "the first entry when the idempotency key was used before.",
        request=AdjustSerializer,
        responses={201: EntrySerializer, 200: EntrySerializer, 409: CONFLICT, **ERRORS},
    )
    def post(self, request: ApiRequest, contact_id: int) -> Response:
        contact = _contact_or_404(request, contact_id)
        entry, created = services.points_adjust(
            contact=contact, data=request_object(request.data), actor=request.actor
        )
        return Response(
            entry_to_dict(entry), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class ContactRedeemView(APIView):
    @extend_schema(
        operation_id="loyalty_contact_redeem",
        description="Spend the contact's points on a reward (for a checkout): 201 with the "
        "redemption and its code; 200 with the first one when the idempotency key was "
        "redeemed before; 409 when the points, the stock, the codes or the contact's "
        "limit do not allow it.",
        request=RedeemSerializer,
        responses={201: RedemptionSerializer, 200: RedemptionSerializer, 409: CONFLICT, **ERRORS},
    )
    def post(self, request: ApiRequest, contact_id: int) -> Response:
        contact = _contact_or_404(request, contact_id)
        redemption, created = services.reward_redeem(
            contact=contact, data=request_object(request.data), actor=request.actor
        )
        return Response(
            redemption_to_dict(redemption),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class RewardListView(APIView):
    pagination_class = ResultsList

    @extend_schema(
        operation_id="loyalty_rewards_list",
        responses={200: RewardSerializer(many=True), **ERRORS},
    )
    def get(self, request: ApiRequest) -> Response:
        rewards = selectors.rewards_for_workspace(workspace=request.workspace)
        return Response({"results": [reward_to_dict(r) for r in rewards]})

    @extend_schema(
        operation_id="loyalty_rewards_create",
        request=RewardSerializer,
        responses={201: RewardSerializer, 409: OpenApiResponse(description="Name taken"), **ERRORS},
    )
    def post(self, request: ApiRequest) -> Response:
        reward = services.reward_create(
            workspace=request.workspace, data=request_object(request.data), actor=request.actor
        )
        return Response(
            reward_to_dict(_reward_or_404(request, reward.pk)), status=status.HTTP_201_CREATED
        )


class RewardDetailView(APIView):
    @extend_schema(
        operation_id="loyalty_rewards_retrieve", responses={200: RewardSerializer, **ERRORS}
    )
    def get(self, request: ApiRequest, reward_id: int) -> Response:
        return Response(reward_to_dict(_reward_or_404(request, reward_id)))

    @extend_schema(
        operation_id="loyalty_rewards_update",
        request=RewardSerializer,
        responses={200: RewardSerializer, 409: CONFLICT, **ERRORS},
    )
    def patch(self, request: ApiRequest, reward_id: int) -> Response:
        reward = services.reward_update(
            reward=_reward_or_404(request, reward_id),
            data=request_object(request.data),
            actor=request.actor,
        )
        return Response(reward_to_dict(_reward_or_404(request, reward.pk)))

    @extend_schema(
        operation_id="loyalty_rewards_delete",
        description="Delete a reward never redeemed; one that was is switched off instead (409).",
        responses={204: None, 409: CONFLICT, **ERRORS},
    )
    def delete(self, request: ApiRequest, reward_id: int) -> Response:
        services.reward_delete(reward=_reward_or_404(request, reward_id), actor=request.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RewardCodesView(APIView):
    @extend_schema(
        operation_id="loyalty_reward_codes_add",
        description="Add codes to a discount code reward's pool: upload `codes`, or "
        "`generate` that many unguessable ones (12 symbols from 31, grouped by 4). Codes "
        "the workspace has already are counted in `duplicates`, not added.",
        request=RewardCodesSerializer,
        responses={201: CodesAddedSerializer, 409: CONFLICT, **ERRORS},
    )
    def post(self, request: ApiRequest, reward_id: int) -> Response:
        result = services.reward_codes_add(
            reward=_reward_or_404(request, reward_id),
            data=request_object(request.data),
            actor=request.actor,
        )
        return Response(result, status=status.HTTP_201_CREATED)


class OrderReverseView(APIView):
    @extend_schema(
        operation_id="loyalty_order_reverse",
        description="Take back what the order (the `order_id` property of its purchase "
        "events) earned, less what refunds took already: 201; 200 with the first reversal "
        "when it was reversed before. A balance already spent gives what is left; the rest "
        "is recorded as `uncollected` in the entry's details.",
        request=ReverseSerializer,
        responses={201: ReversedSerializer, 200: ReversedSerializer, **ERRORS},
    )
    def post(self, request: ApiRequest, order_id: str) -> Response:
        entries, created = services.order_reverse(
            workspace=request.workspace,
            order_id=order_id,
            data=request_object(request.data),
            actor=request.actor,
        )
        return Response(
            {
                "order_id": order_id,
                "points": sum(e.points for e in entries),
                "entries": [entry_to_dict(e) for e in entries],
            },
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
