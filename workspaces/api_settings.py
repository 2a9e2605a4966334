"""Settings over the API (`/api/v1/settings/...`): the workspace's general settings and
its members and invitations. An API key manages members as an admin would: it never
grants, changes or removes the owner role."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import request_object
from config.currencies import currency_pattern
from config.errors import InvalidInput, NotFound
from config.openapi import ERRORS, NON_BLANK, described, text
from workspaces import members, tasks
from workspaces.api_auth import ApiRequest
from workspaces.dates import DateLocale
from workspaces.models import Invitation, Membership, Role, available_time_zones
from workspaces.services import workspace_settings_update

GENERAL_FIELDS: dict[str, type] = {
    "name": str,
    "time_zone": str,
    "currency": str,
    "date_locale": str,
    "purchase_event_names": list,
}


# Not blank, and not only NUL (which PostgreSQL text cannot hold and is dropped).
NAME_SCHEMA = {**text(200, blank=False), "pattern": NON_BLANK.replace("[^", "[^\\x00", 1)}


class GeneralSettingsSerializer(serializers.Serializer[Any]):
    name = described(NAME_SCHEMA)
    time_zone = serializers.ChoiceField(
        choices=sorted(available_time_zones()), help_text="An IANA time zone"
    )
    currency = described(
        {"type": "string", "pattern": currency_pattern(), "description": "ISO 4217, e.g. EUR"}
    )
    date_locale = serializers.ChoiceField(
        choices=DateLocale.choices, help_text="How the dashboard writes dates and times"
    )
    purchase_event_names = described(
        {
            "type": "array",
            "minItems": 1,
            "maxItems": 20,
            "items": {"type": "string", "pattern": "^[A-Za-z0-9_.:\\-]{1,200}$"},
        }
    )


def _typed(data: dict[str, Any], fields: dict[str, type]) -> dict[str, Any]:
    errors = {
        key: [f"must be a {'list of strings' if kind is list else 'string'}"]
        for key, kind in fields.items()
        if key in data and not isinstance(data[key], kind)
    }
    errors.update({key: ["unknown field"] for key in data if key not in fields})
    if errors:
        raise InvalidInput("The settings are not valid.", fields=errors)
    return {key: data[key] for key in fields if key in data}


def _general(request: ApiRequest) -> dict[str, Any]:
    ws = request.workspace
    return {
        "name": ws.name,
        "time_zone": ws.time_zone,
        "currency": ws.currency,
        "date_locale": ws.date_locale,
        "purchase_event_names": list(ws.purchase_event_names),
    }


class GeneralSettingsView(APIView):
    @extend_schema(
        operation_id="settings_general_retrieve",
        responses={200: GeneralSettingsSerializer, **ERRORS},
    )
    def get(self, request: ApiRequest) -> Response:
        return Response(_general(request))

    @extend_schema(
        operation_id="settings_general_update",
        description="Change the workspace's name, time zone, currency, date format "
        "(`date_locale`) or purchase event names; "
        "fields left out stay as they are.",
        request=GeneralSettingsSerializer(partial=True),
        responses={200: GeneralSettingsSerializer, **ERRORS},
    )
    def patch(self, request: ApiRequest) -> Response:
        data = _typed(request_object(request.data), GENERAL_FIELDS)
        workspace_settings_update(workspace=request.workspace, actor=request.actor, **data)
        return Response(_general(request))


class MemberSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)
    since = serializers.DateTimeField()


# An API key acts as an admin: it grants every role but owner.
API_ROLES = [(role.value, role.label) for role in Role if role != Role.OWNER]


class RoleSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=API_ROLES)


class InvitationSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField()
    role = serializers.ChoiceField(
        choices=API_ROLES, required=False, help_text="marketer if left out"
    )
    status = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    expires_at = serializers.DateTimeField(read_only=True)


def _member(m: Membership) -> dict[str, Any]:
    return {
        "id": m.pk,
        "email": m.user.email,
        "name": m.user.name,
        "role": m.role,
        "since": m.created_at,
    }


def _invitation(i: Invitation) -> dict[str, Any]:
    return {
        "id": i.pk,
        "email": i.email,
        "role": i.role,
        "status": i.status,
        "created_at": i.created_at,
        "expires_at": i.expires_at,
    }


def _manager(request: ApiRequest) -> members.Manager:
    return members.Manager(actor=request.actor, role=Role.ADMIN)


def _known(data: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    unknown = {key: ["unknown field"] for key in data if key not in keys}
    if unknown:
        raise InvalidInput("The request is not valid.", fields=unknown)
    return data


def _string(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise InvalidInput("The request is not valid.", fields={key: ["required, a string"]})
    return value


class MemberListView(APIView):
    @extend_schema(
        operation_id="settings_members_list", responses={200: MemberSerializer(many=True), **ERRORS}
    )
    def get(self, request: ApiRequest) -> Response:
        return Response([_member(m) for m in members.members_of(workspace=request.workspace)])


class MemberDetailView(APIView):
    def _membership(self, request: ApiRequest, member_id: int) -> Membership:
        found = members.members_of(workspace=request.workspace).filter(pk=member_id).first()
        if found is None:
            raise NotFound("No such member.")
        return found

    @extend_schema(
        operation_id="settings_members_update",
        description="Change a member's role; never to or from owner (owners do that "
        "in the dashboard).",
        request=RoleSerializer,
        responses={
            200: MemberSerializer,
            403: OpenApiResponse(description="Owner role"),
            409: OpenApiResponse(description="Last owner"),
            **ERRORS,
        },
    )
    def patch(self, request: ApiRequest, member_id: int) -> Response:
        membership = self._membership(request, member_id)
        data = _known(request_object(request.data), {"role"})
        if "role" not in data:
            return Response(_member(membership))  # nothing to change
        role = _string(data, "role")
        membership = members.membership_role_change(
            membership=membership, role=role, manager=_manager(request)
        )
        return Response(_member(membership))

    @extend_schema(
        operation_id="settings_members_delete",
        responses={204: None, 403: OpenApiResponse(description="An owner"), **ERRORS},
    )
    def delete(self, request: ApiRequest, member_id: int) -> Response:
        members.membership_remove(
            membership=self._membership(request, member_id), manager=_manager(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationListView(APIView):
    @extend_schema(
        operation_id="settings_invitations_list",
        responses={200: InvitationSerializer(many=True), **ERRORS},
    )
    def get(self, request: ApiRequest) -> Response:
        return Response(
            [_invitation(i) for i in members.invitations_open(workspace=request.workspace)]
        )

    @extend_schema(
        operation_id="settings_invitations_create",
        description="Invite someone by email: they get a link that works once, for 7 days. "
        "A new invitation to the same address replaces the open one.",
        request=InvitationSerializer,
        responses={
            201: InvitationSerializer,
            403: OpenApiResponse(description="The owner role"),
            409: OpenApiResponse(description="Already a member"),
            **ERRORS,
        },
    )
    def post(self, request: ApiRequest) -> Response:
        data = _known(request_object(request.data), {"email", "role"})
        invitation, token = members.invitation_create(
            workspace=request.workspace,
            email=_string(data, "email"),
            role=_string(data, "role") if "role" in data else Role.MARKETER.value,
            manager=_manager(request),
        )
        link = request.build_absolute_uri(reverse("workspaces:invitation", args=[token]))
        transaction.on_commit(lambda: tasks.send_invitation.delay(invitation.pk, link))
        return Response(_invitation(invitation), status=status.HTTP_201_CREATED)


class InvitationDetailView(APIView):
    @extend_schema(operation_id="settings_invitations_delete", responses={204: None, **ERRORS})
    def delete(self, request: ApiRequest, invitation_id: int) -> Response:
        invitation = (
            members.invitations_open(workspace=request.workspace).filter(pk=invitation_id).first()
        )
        if invitation is None:
            raise NotFound("No such open invitation.")
        members.invitation_revoke(invitation=invitation, manager=_manager(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
