"""REST API v1 for contacts, events and CSV imports. Views are thin: parse, call a
selector or service, shape the answer."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import error_response, request_object
from config.batch import batch_answer
from config.errors import InvalidInput, NotFound
from config.openapi import ERRORS
from config.pagination import (
    KeysetPagination,
    keyset_page,
    keyset_response,
    paginated_response,
    parse_limit,
)
from config.parsers import parse_json
from config.query import datetime_param, enum_param, openapi, query_values, text_param
from contacts import selectors, serializers, services
from contacts.hooks import contact_extras_clean
from contacts.models import Contact, EmailStatus, SmsStatus
from contacts.validation import clean_contact
from workspaces.api_auth import ApiRequest, bearer_key, rate_limit_wait

LIST_PARAMS = [
    text_param("q", "search email, names, external id"),
    text_param("email", "exactly this email", max_length=254),
    text_param("external_id", "exactly this external id"),
    enum_param("email_status", EmailStatus.values),
    enum_param("sms_status", SmsStatus.values),
    datetime_param("updated_since", "pages in updated_at order when given"),
]
EXPORT_PARAMS = [LIST_PARAMS[0], LIST_PARAMS[3]]


def _contact_or_404(request: ApiRequest, contact_id: Any) -> Contact:
    contact = selectors.contact_get(workspace=request.workspace, contact_id=contact_id)
    if contact is None:
        raise NotFound("No such contact.")
    return contact


def _batch(body: dict[str, Any], key: str, *, only: bool = False) -> list[Any]:
    items = body.get(key)
    if not isinstance(items, list):
        raise InvalidInput(f"{key} must be a list.", fields={key: ["must be a list"]})
    if not items:
        raise InvalidInput(f"{key} is empty.", fields={key: ["must not be empty"]})
    limit = settings.API_BATCH_MAX_ITEMS
    if len(items) > limit:
        raise InvalidInput(
            f"{key} has {len(items)} items; at most {limit} per request.",
            fields={key: [f"at most {limit} items per request"]},
        )
    unknown = sorted(set(body) - {key}) if only else []
    if unknown:
        raise InvalidInput(
            f"Unknown fields: {', '.join(unknown)}.", fields={k: ["unknown field"] for k in unknown}
        )
    return items


class ContactListView(APIView):
    pagination_class = KeysetPagination

    @extend_schema(
        operation_id="contacts_list",
        parameters=openapi(LIST_PARAMS),
        responses={200: serializers.ContactSerializer(many=True), **ERRORS},
    )
    def get(self, request: ApiRequest) -> Response:
        params = request.query_params
        values = query_values(params, LIST_PARAMS)
        updated_since = values.get("updated_since")
        queryset = selectors.contacts_search(
            workspace=request.workspace,
            q=values.get("q", ""),
            email=values.get("email"),
            external_id=values.get("external_id"),
            email_status=values.get("email_status"),
            sms_status=values.get("sms_status"),
            updated_since=updated_since,
        )
        keys = ["updated_at", "id"] if updated_since else ["-id"]
        rows, cursor = keyset_page(
            queryset, keys=keys, cursor=params.get("cursor"), limit=parse_limit(params.get("limit"))
        )
        return paginated_response(request, [serializers.contact_to_dict(c) for c in rows], cursor)

    @extend_schema(
        operation_id="contacts_create",
        description="Create a contact. Fields that later apps register are accepted too "
        "(contacts/hooks.py): `referred_by`, a referral code or the `ref` token of a referral "
        "link, links the contact to its referrer (400 naming `referred_by` if unknown).",
        request=serializers.ContactCreateSerializer,
        responses={
            201: serializers.ContactSerializer,
            409: OpenApiResponse(description="The email or external_id belongs to another contact"),
            **ERRORS,
        },
    )
    def post(self, request: ApiRequest) -> Response:
        # Fields later apps own (loyalty's `referred_by`) are cleaned by them.
        body, extras, extra_errors = contact_extras_clean(
            request.workspace, request_object(request.data)
        )
        data, errors = clean_contact(body, partial=False, zone=request.workspace.time_zone)
        errors = {**errors, **extra_errors}
        if errors:
            first, reasons = next(iter(errors.items()))
            raise InvalidInput(f"{first}: {reasons[0]}", fields=errors)
        contact = services.contact_create(
            workspace=request.workspace, data=data, actor=request.actor, extras=extras
        )
        return Response(serializers.contact_to_dict(contact), status=status.HTTP_201_CREATED)


class ContactDetailView(APIView):
    @extend_schema(
        operation_id="contacts_retrieve", responses={200: serializers.ContactSerializer, **ERRORS}
    )
    def get(self, request: ApiRequest, contact_id: int) -> Response:
        return Response(serializers.contact_to_dict(_contact_or_404(request, contact_id)))

    @extend_schema(
        operation_id="contacts_update",
        request=serializers.ContactSerializer,
        responses={
            200: serializers.ContactSerializer,
            409: OpenApiResponse(description="The email or external_id belongs to another contact"),
            **ERRORS,
        },
    )
    def patch(self, request: ApiRequest, contact_id: int) -> Response:
        contact = _contact_or_404(request, contact_id)
        data = serializers.clean_contact_or_raise(
            request_object(request.data), partial=True, zone=request.workspace.time_zone
        )
        contact = services.contact_update(contact=contact, data=data, actor=request.actor)
        return Response(serializers.contact_to_dict(contact))

    @extend_schema(
        operation_id="contacts_erase",
        description="Erase the contact's personal data (GDPR). Its email and "
        "phone stay on the suppression list, hashed.",
        responses={204: None, **ERRORS},
    )
    def delete(self, request: ApiRequest, contact_id: int) -> Response:
        contact = _contact_or_404(request, contact_id)
        services.contact_erase(contact=contact, actor=request.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ContactBatchView(APIView):
    @extend_schema(
        operation_id="contacts_batch_upsert",
        description="Create or update up to 1000 contacts, matched by external_id when "
        "given, else email. Valid items are kept when others fail. Fields later apps "
        "register are taken too and applied to the contacts an item creates: `referred_by` "
        "(a referral code or the `ref` token of a referral link; an unknown one is the "
        "item's error naming `referred_by`).",
        request=serializers.ContactBatchSerializer,
        responses={200: serializers.BatchResponseSerializer, **ERRORS},
    )
    def post(self, request: ApiRequest) -> Response:
        items = _batch(request_object(request.data), "contacts", only=True)
        workspace = request.workspace
        # The extra fields of the items that pass, in their order: what batch_answer
        # hands the upsert.
        extras: list[dict[str, Any]] = []

        def clean(item: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
            body, item_extras, extra_errors = contact_extras_clean(workspace, item)
            data, errors = clean_contact(body, partial=True, zone=workspace.time_zone)
            errors = {**errors, **extra_errors}
            if not errors:
                extras.append(item_extras)
            return data, errors

        return Response(
            batch_answer(
                items,
                clean,
                lambda cleaned: services.contacts_upsert(
                    workspace=workspace, items=cleaned, source="api", extras=extras
                ),
            )
        )


class ContactEventsView(APIView):
    pagination_class = KeysetPagination

    @extend_schema(
        operation_id="contacts_events_list",
        responses={200: serializers.EventSerializer(many=True), **ERRORS},
    )
    def get(self, request: ApiRequest, contact_id: int) -> Response:
        contact = _contact_or_404(request, contact_id)
        return keyset_response(
            request,
            selectors.events_for_contact(contact=contact),
            keys=["-occurred_at", "-id"],
            item=serializers.event_to_dict,
        )


class ContactExportView(APIView):
    @extend_schema(
        operation_id="contacts_export",
        description="All contacts as CSV (one column per custom attribute). Cells starting "
        "with = + - @ are prefixed with ' so spreadsheets do not run them.",
        parameters=openapi(EXPORT_PARAMS),
        responses={(200, "text/csv"): OpenApiTypes.STR, **ERRORS},
    )
    def get(self, request: ApiRequest) -> StreamingHttpResponse:
        values = query_values(request.query_params, EXPORT_PARAMS)
        queryset = selectors.contacts_search(
            workspace=request.workspace,
            q=values.get("q", ""),
            email_status=values.get("email_status"),
        )
        response = StreamingHttpResponse(
            services.contacts_csv_rows(queryset), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="contacts.csv"'
        return response


class EventIngestView(APIView):
    """POST /api/v1/events/: every integration's hot path.

    POST is served without DRF's request machinery (Request wrapping, content
    negotiation, parser and renderer classes), the way PostHog serves its capture
    endpoint: `dispatch` hands the plain request to `post`, which calls the same key
    check, rate limit, strict JSON parsing, validation, ingest service and error shape
    as every other route. That is a fifth of each single-event request's CPU (measured
    with bench/ingest.py); other methods go through DRF as usual (405)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "POST":
            return self.post(request)
        return super().dispatch(request, *args, **kwargs)

    @extend_schema(
        operation_id="events_ingest",
        description='One event object, or {"batch": [...]} with up to 1000. Each names its '
        'contact by {"id"}, {"email"} or {"external_id"}; an unknown email or '
        "external_id creates the contact. A repeated idempotency_key is recorded once.",
        request=PolymorphicProxySerializer(
            component_name="EventIngestRequest",
            serializers=[serializers.EventSerializer, serializers.EventBatchSerializer],
            resource_type_field_name=None,
        ),
        responses={202: serializers.IngestResponseSerializer, **ERRORS},
    )
    def post(self, request: HttpRequest) -> HttpResponseBase:
        try:
            key = bearer_key(request.META.get("HTTP_AUTHORIZATION", ""))
            if key is None:
                raise exceptions.NotAuthenticated("Send 'Authorization: Bearer <api key>'.")
            wait = rate_limit_wait(key)
            if wait is not None:
                raise exceptions.Throttled(wait)
            if request.content_type != "application/json":
                raise exceptions.UnsupportedMediaType(request.content_type or "")
            body = request_object(parse_json(request.body))
            single = "batch" not in body
            items = [body] if single else _batch(body, "batch", only=True)
            result = services.events_ingest(workspace=key.workspace, items=items)
            if single and result.errors:
                fields = result.errors[0]["fields"]
                first, reasons = next(iter(fields.items()))
                raise InvalidInput(f"{first}: {reasons[0]}", fields=fields)
            return JsonResponse(result.as_dict(), status=status.HTTP_202_ACCEPTED)
        except Exception as exc:
            response = error_response(exc)
            if response is None:
                raise
            return response
