"""REST API v1 for a workspace's sending set-up: the sender identity and SMS number
(/settings/sender/) and the sending domains with their DNS records
(/settings/domains/). A domain's private key is never part of any answer."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import request_object
from config.errors import InvalidInput, NotFound
from config.openapi import ERRORS, described, or_empty, text
from config.pagination import ResultsList
from contacts.serializers import EMAIL, PHONE
from messaging import selectors
from messaging.domain_models import SendingDomain
from messaging.services import domains
from messaging.services.sender import (
    SENDER_FIELDS,
    messaging_settings_get,
    messaging_settings_update,
)
from workspaces.api_auth import ApiRequest


class SenderSettingsSerializer(serializers.Serializer):
    from_name = described(
        {"type": "string", "maxLength": 200, "pattern": "^[^\\r\\n]*$"},
        required=False,
        help_text="one line",
    )
    from_email = described(
        or_empty(EMAIL, nullable=False),
        required=False,
        help_text="lower-cased; empty: the installation's default",
    )
    reply_to = described(
        or_empty(EMAIL, nullable=False),
        required=False,
        help_text="where replies go (Reply-To) unless a template names its own; lower-cased",
    )
    sms_from_number = described(
        or_empty(PHONE, nullable=False),
        required=False,
        help_text="the SMS sender (E.164), or empty; a number belongs to one workspace "
        "(409 when another has it)",
    )
    sms_help_text = described(text(320), required=False)


class DnsRecordSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["DKIM", "SPF"])
    type = serializers.ChoiceField(choices=["TXT"])
    name = serializers.CharField()
    value = serializers.CharField(help_text="what to publish (SPF: merge into an existing one)")
    status = serializers.ChoiceField(choices=["pending", "verified", "failed"])
    detail = serializers.CharField(help_text="what the last check found", allow_blank=True)


class SendingDomainSerializer(serializers.ModelSerializer):
    records = serializers.SerializerMethodField()

    class Meta:
        model = SendingDomain
        fields = [
            "id",
            "domain",
            "selector",
            "status",
            "records",
            "last_checked_at",
            "verified_at",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(DnsRecordSerializer(many=True))
    def get_records(self, record: SendingDomain) -> list[dict[str, str]]:
        return domains.dns_records(record)


class SendingDomainCreateSerializer(serializers.Serializer):
    domain = described(
        {"type": "string", "maxLength": 253, "pattern": domains.DOMAIN_PATTERN},
        help_text="a domain name such as mail.example.com (an international one in its "
        "xn-- form); compared in lower case",
    )


def _sender_dict(request: ApiRequest) -> dict[str, Any]:
    current = messaging_settings_get(workspace=request.workspace)
    return {key: getattr(current, key) for key in SENDER_FIELDS}


class SenderSettingsView(APIView):
    @extend_schema(
        operation_id="settings_sender_retrieve",
        responses={200: SenderSettingsSerializer, **ERRORS},
    )
    def get(self, request: ApiRequest) -> Response:
        return Response(_sender_dict(request))

    @extend_schema(
        operation_id="settings_sender_update",
        description="Changes the fields given. An address or number that is not valid is "
        "a 400 naming the field.",
        request=SenderSettingsSerializer,
        responses={
            200: SenderSettingsSerializer,
            409: OpenApiResponse(description="Another workspace uses this SMS number"),
            **ERRORS,
        },
    )
    def patch(self, request: ApiRequest) -> Response:
        messaging_settings_update(
            workspace=request.workspace,
            data=request_object(request.data),
            actor=request.actor,
        )
        return Response(_sender_dict(request))


def _domain_or_404(request: ApiRequest, domain_id: Any) -> SendingDomain:
    record = selectors.sending_domain_get(workspace=request.workspace, domain_id=domain_id)
    if record is None:
        raise NotFound("No such domain.")
    return record


def _domain_dict(record: SendingDomain) -> dict[str, Any]:
    return dict(SendingDomainSerializer(record).data)


class SendingDomainListView(APIView):
    pagination_class = ResultsList  # {"results": [...]} in the schema

    @extend_schema(
        operation_id="settings_domains_list",
        responses={200: SendingDomainSerializer(many=True), **ERRORS},
    )
    def get(self, request: ApiRequest) -> Response:
        found = selectors.sending_domains_for_workspace(workspace=request.workspace)
        return Response({"results": [_domain_dict(d) for d in found]})

    @extend_schema(
        operation_id="settings_domains_create",
        description="Adds the domain with a new DKIM key; the answer lists the DNS records "
        "to publish. It is checked at once and every few minutes until verified.",
        request=SendingDomainCreateSerializer,
        responses={
            201: SendingDomainSerializer,
            409: OpenApiResponse(description="The workspace already has this domain"),
            **ERRORS,
        },
    )
    def post(self, request: ApiRequest) -> Response:
        body = request_object(request.data)
        unknown = sorted(set(body) - {"domain"})
        if unknown:
            raise InvalidInput("Unknown fields.", fields={k: ["unknown field"] for k in unknown})
        value = body.get("domain")
        if not isinstance(value, str):
            raise InvalidInput(
                "domain: is required", fields={"domain": ["is required, as a string"]}
            )
        if len(value) > 253 or not re.fullmatch(domains.DOMAIN_PATTERN, value):
            domains.domain_normalise(value)  # raises with the reason when it has one
            reason = "the domain name alone, in ASCII (an international name in its xn-- form)"
            raise InvalidInput(f"domain: {reason}", fields={"domain": [reason]})
        record = domains.sending_domain_create(
            workspace=request.workspace, domain=body["domain"], actor=request.actor
        )
        return Response(_domain_dict(record), status=status.HTTP_201_CREATED)


class SendingDomainDetailView(APIView):
    @extend_schema(
        operation_id="settings_domains_retrieve",
        responses={200: SendingDomainSerializer, **ERRORS},
    )
    def get(self, request: ApiRequest, domain_id: int) -> Response:
        return Response(_domain_dict(_domain_or_404(request, domain_id)))

    @extend_schema(
        operation_id="settings_domains_destroy",
        description="Removes the domain and deletes its key: mail from it is signed with "
        "the installation's default from then on.",
        responses={204: None, **ERRORS},
    )
    def delete(self, request: ApiRequest, domain_id: int) -> Response:
        domains.sending_domain_delete(
            record=_domain_or_404(request, domain_id), actor=request.actor
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class SendingDomainVerifyView(APIView):
    @extend_schema(
        operation_id="settings_domains_verify",
        description="Looks the DNS records up now (a few seconds at most) and answers with "
        "what was found, per record.",
        request=None,
        responses={200: SendingDomainSerializer, **ERRORS},
    )
    def post(self, request: ApiRequest, domain_id: int) -> Response:
        record = _domain_or_404(request, domain_id)
        checked = domains.sending_domain_verify(domain_id=record.pk, actor=request.actor)
        return Response(_domain_dict(checked or record))
