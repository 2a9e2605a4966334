"""REST API v1 for message templates (CRUD, preview as a contact, send a test) and
the outbox (read-only). Views are thin: parse, call a selector or service, shape."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import request_object
from config.errors import InvalidInput, NotFound
from config.openapi import ERRORS, NON_BLANK, component_rules, described, text
from config.pagination import (
    KeysetPagination,
    ResultsList,
    keyset_page,
    paginated_response,
    parse_limit,
)
from config.query import enum_param, id_param, openapi, query_values
from contacts import selectors as contact_selectors
from contacts.models import Channel, Contact
from messaging import selectors, services
from messaging.models import TEMPLATE_FIELDS, Editor, Message, MessageStatus, Template
from messaging.rendering import sms_segments
from messaging.services.previews import message_send_test, template_preview
from workspaces.api_auth import ApiRequest

WRITABLE = TEMPLATE_FIELDS


class TemplateSerializer(serializers.ModelSerializer):
    name = described(text(200, blank=False))
    subject = described(text(500), required=False, help_text="required for email")
    preheader = described(text(500), required=False)
    from_name = described(text(200), required=False)
    from_email = described(text(254), required=False)
    reply_to = described(text(254), required=False)
    body = described(
        {"type": "string", "pattern": NON_BLANK},
        required=False,
        help_text="the template (HTML for email; required unless editor is blocks); it must "
        "compile: a syntax error is a 400 "
        "with the line and the reason",
    )
    text_body = described({"type": "string"}, required=False)
    editor = serializers.ChoiceField(
        choices=["html", "blocks"],
        required=False,
        help_text="blocks: `body` and `text_body` are rendered from `document` on save",
    )
    document = described(
        {
            "type": "object",
            "properties": {"sections": {"type": "array", "minItems": 1, "maxItems": 40}},
            "additionalProperties": False,
        },
        required=False,
        help_text="the block document (sections → columns → blocks; {} for an HTML "
        "template), see docs/messaging.md; "
        "a bad node is a 400 naming its path, e.g. document.sections[0].columns[0].blocks[1].url",
    )
    sms_segments = serializers.SerializerMethodField(help_text="SMS: segments of the raw body")

    class Meta:
        model = Template
        fields = ["id", *WRITABLE, "sms_segments", "created_at", "updated_at"]
        read_only_fields = ["id", "sms_segments", "created_at", "updated_at"]

    def get_sms_segments(self, template: Template) -> int | None:
        if template.channel != Channel.SMS:
            return None
        return sms_segments(template.body).segments


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = [
            "id",
            "contact",
            "channel",
            "template",
            "origin_kind",
            "origin_id",
            "variant_id",
            "idempotency_key",
            "is_test",
            "status",
            "status_reason",
            "due_at",
            "attempts",
            "error",
            "provider",
            "provider_message_id",
            "to_address",
            "subject",
            "body_html",
            "body_text",
            "sms_segments",
            "created_at",
            "sent_at",
            "delivered_at",
            "bounced_at",
            "opened_at",
            "clicked_at",
        ]
        read_only_fields = fields


class TemplatePreviewRequestSerializer(serializers.Serializer):
    contact_id = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text="render as this contact"
    )


class TemplatePreviewSerializer(serializers.Serializer):
    subject = serializers.CharField()
    html = serializers.CharField()
    text = serializers.CharField()
    sms_segments = serializers.IntegerField()
    sms_encoding = serializers.CharField()


class SendTestRequestSerializer(serializers.Serializer):
    to = described(
        {"type": "string", "maxLength": 254},
        help_text="an email address for an email template, an E.164 number for SMS",
    )
    contact_id = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text="render as this contact"
    )


# An email template needs a subject (an SMS one has none); an HTML one a body.
component_rules["TemplateRequest"] = {
    "oneOf": [
        {
            "properties": {
                "channel": {"enum": ["email"]},
                "subject": {"pattern": NON_BLANK},
                "editor": {"enum": ["html"]},
            },
            "required": ["subject", "body"],
        },
        {
            # A blocks template's HTML and text parts are rendered from its document.
            "properties": {
                "channel": {"enum": ["email"]},
                "subject": {"pattern": NON_BLANK},
                "editor": {"enum": ["blocks"]},
                "document": {"required": ["sections"]},
            },
            "required": ["subject", "editor", "document"],
            "not": {"anyOf": [{"required": ["body"]}, {"required": ["text_body"]}]},
        },
        {
            "properties": {"channel": {"enum": ["sms"]}, "editor": {"enum": ["html"]}},
            "required": ["body"],
        },
    ]
}


def _template_data(body: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    unknown = sorted(set(body) - set(WRITABLE))
    if unknown:
        raise InvalidInput(
            f"Unknown fields: {', '.join(unknown)}.", fields={k: ["unknown field"] for k in unknown}
        )
    data: dict[str, Any] = {}
    for key, value in body.items():
        if key == "document":
            if not isinstance(value, dict):
                raise InvalidInput(
                    "document: must be an object", fields={"document": ["must be an object"]}
                )
        elif not isinstance(value, str):
            raise InvalidInput(f"{key}: must be a string", fields={key: ["must be a string"]})
        data[key] = value
    if data.get("editor") == Editor.BLOCKS:
        # The HTML and text parts of a blocks template are rendered from its document.
        given = sorted({"body", "text_body"} & set(data))
        if given:
            raise InvalidInput(
                f"{given[0]}: rendered from the document when editor is blocks",
                fields={k: ["rendered from the document"] for k in given},
            )
    if not partial:
        required = (
            "name",
            "channel",
            "document" if data.get("editor") == Editor.BLOCKS else "body",
        )
        missing = [k for k in required if k not in data]
        if missing:
            raise InvalidInput(
                f"{missing[0]}: is required", fields={k: ["is required"] for k in missing}
            )
    return data


def _template_or_404(request: ApiRequest, template_id: Any) -> Template:
    template = selectors.template_get(workspace=request.workspace, template_id=template_id)
    if template is None:
        raise NotFound("No such template.")
    return template


def _contact_or_none(
    request: ApiRequest, body: dict[str, Any], allowed: tuple[str, ...] = ("contact_id",)
) -> Contact | None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidInput("Unknown fields.", fields={k: ["unknown field"] for k in unknown})
    if body.get("contact_id") in (None, ""):
        return None
    contact = contact_selectors.contact_get(
        workspace=request.workspace, contact_id=body["contact_id"]
    )
    if contact is None:
        raise InvalidInput(
            "contact_id: no such contact", fields={"contact_id": ["no such contact"]}
        )
    return contact


def template_to_dict(template: Template) -> dict[str, Any]:
    return dict(TemplateSerializer(template).data)


class TemplateListView(APIView):
    pagination_class = ResultsList

    @extend_schema(
        operation_id="templates_list", responses={200: TemplateSerializer(many=True), **ERRORS}
    )
    def get(self, request: ApiRequest) -> Response:
        templates = selectors.templates_for_workspace(workspace=request.workspace)
        return Response({"results": [template_to_dict(t) for t in templates]})

    @extend_schema(
        operation_id="templates_create",
        description="A template whose subject or body does not compile is refused with "
        "the field, the line and the reason.",
        request=TemplateSerializer,
        responses={
            201: TemplateSerializer,
            409: OpenApiResponse(description="A template has this name"),
            **ERRORS,
        },
    )
    def post(self, request: ApiRequest) -> Response:
        data = _template_data(request_object(request.data), partial=False)
        template = services.template_create(
            workspace=request.workspace, data=data, actor=request.actor
        )
        return Response(template_to_dict(template), status=status.HTTP_201_CREATED)


class TemplateDetailView(APIView):
    @extend_schema(operation_id="templates_retrieve", responses={200: TemplateSerializer, **ERRORS})
    def get(self, request: ApiRequest, template_id: int) -> Response:
        return Response(template_to_dict(_template_or_404(request, template_id)))

    @extend_schema(
        operation_id="templates_update",
        request=TemplateSerializer,
        responses={
            200: TemplateSerializer,
            409: OpenApiResponse(description="A template has this name"),
            **ERRORS,
        },
    )
    def patch(self, request: ApiRequest, template_id: int) -> Response:
        template = _template_or_404(request, template_id)
        data = _template_data(request_object(request.data), partial=True)
        template = services.template_update(template=template, data=data, actor=request.actor)
        return Response(template_to_dict(template))

    @extend_schema(
        operation_id="templates_delete",
        responses={
            204: None,
            409: OpenApiResponse(description="A campaign uses the template"),
            **ERRORS,
        },
    )
    def delete(self, request: ApiRequest, template_id: int) -> Response:
        services.template_delete(
            template=_template_or_404(request, template_id), actor=request.actor
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class TemplatePreviewView(APIView):
    @extend_schema(
        operation_id="templates_preview",
        description="The template rendered as a contact (CSS inlined, text generated).",
        request=TemplatePreviewRequestSerializer,
        responses={200: TemplatePreviewSerializer, **ERRORS},
    )
    def post(self, request: ApiRequest, template_id: int) -> Response:
        template = _template_or_404(request, template_id)
        contact = _contact_or_none(request, request_object(request.data))
        rendered = template_preview(template=template, contact=contact)
        return Response(
            {
                "subject": rendered.subject,
                "html": rendered.html,
                "text": rendered.text,
                "sms_segments": rendered.segments,
                "sms_encoding": rendered.encoding,
            }
        )


class TemplateSendTestView(APIView):
    @extend_schema(
        operation_id="templates_send_test",
        description="Queue a test send to an address; it goes through the outbox and "
        "the configured provider like any message.",
        request=SendTestRequestSerializer,
        responses={202: MessageSerializer, **ERRORS},
    )
    def post(self, request: ApiRequest, template_id: int) -> Response:
        template = _template_or_404(request, template_id)
        body = request_object(request.data)
        if not isinstance(body.get("to"), str):
            raise InvalidInput("to: is required", fields={"to": ["is required"]})
        contact = _contact_or_none(request, body, ("to", "contact_id"))
        message = message_send_test(
            template=template,
            to=body["to"],
            contact=contact,
            actor=request.actor,
        )
        return Response(MessageSerializer(message).data, status=status.HTTP_202_ACCEPTED)


MESSAGE_PARAMS = [
    enum_param("status", MessageStatus.values),
    enum_param("channel", Channel.values),
    id_param("contact_id", "only this contact's messages"),
]


class MessageListView(APIView):
    pagination_class = KeysetPagination

    @extend_schema(
        operation_id="messages_list",
        parameters=openapi(MESSAGE_PARAMS),
        responses={200: MessageSerializer(many=True), **ERRORS},
    )
    def get(self, request: ApiRequest) -> Response:
        params = request.query_params
        values = query_values(params, MESSAGE_PARAMS)
        queryset = selectors.messages_for_workspace(
            workspace=request.workspace,
            status=values.get("status"),
            channel=values.get("channel"),
            contact_id=values.get("contact_id"),
        )
        rows, cursor = keyset_page(
            queryset,
            keys=["-id"],
            cursor=params.get("cursor"),
            limit=parse_limit(params.get("limit")),
        )
        return paginated_response(request, [MessageSerializer(m).data for m in rows], cursor)


class MessageDetailView(APIView):
    @extend_schema(operation_id="messages_retrieve", responses={200: MessageSerializer, **ERRORS})
    def get(self, request: ApiRequest, message_id: int) -> Response:
        message = selectors.message_get(workspace=request.workspace, message_id=message_id)
        if message is None:
            raise NotFound("No such message.")
        return Response(MessageSerializer(message).data)
