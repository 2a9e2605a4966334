"""REST API v1 for the product catalogue: list, read, upsert one or a batch,
deactivate. Views are thin: parse, call a selector or service, shape the answer."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import selectors, serializers, services
from catalog.models import Product
from catalog.validation import clean_product
from config.api import request_object
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
from config.query import datetime_param, enum_param, openapi, query_values, text_param
from workspaces.api_auth import ApiRequest

BOOL = ["true", "false"]
LIST_PARAMS = [
    text_param("q", "search titles and product ids"),
    text_param("product_id", "exactly this product id"),
    text_param("category", "products in this category"),
    text_param("brand", "products of this brand (any case)"),
    enum_param("in_stock", BOOL),
    enum_param("active", BOOL),
    datetime_param("updated_since", "pages in updated_at order when given"),
]


def _flag(values: dict[str, Any], name: str) -> bool | None:
    return None if name not in values else values[name] == "true"


def _product_or_404(request: ApiRequest, product_id: str) -> Product:
    product = selectors.product_get(workspace=request.workspace, product_id=product_id)
    if product is None:
        raise NotFound("No such product.")
    return product


def _refuse(errors: dict[str, list[str]]) -> InvalidInput:
    first, reasons = next(iter(errors.items()))
    return InvalidInput(f"{first}: {reasons[0]}", fields=errors)


class ProductListView(APIView):
    pagination_class = KeysetPagination

    @extend_schema(
        operation_id="products_list",
        parameters=openapi(LIST_PARAMS),
        responses={200: serializers.ProductSerializer(many=True), **ERRORS},
    )
    def get(self, request: ApiRequest) -> Response:
        params = request.query_params
        values = query_values(params, LIST_PARAMS)
        updated_since = values.get("updated_since")
        queryset = selectors.products_search(
            workspace=request.workspace,
            q=values.get("q", ""),
            category=values.get("category"),
            brand=values.get("brand"),
            in_stock=_flag(values, "in_stock"),
            active=_flag(values, "active"),
            updated_since=updated_since,
        )
        if "product_id" in values:
            queryset = queryset.filter(product_id=values["product_id"])
        keys = ["updated_at", "id"] if updated_since else ["product_id"]
        rows, cursor = keyset_page(
            queryset, keys=keys, cursor=params.get("cursor"), limit=parse_limit(params.get("limit"))
        )
        return paginated_response(request, [serializers.product_to_dict(p) for p in rows], cursor)


class ProductDetailView(APIView):
    @extend_schema(
        operation_id="products_retrieve",
        responses={200: serializers.ProductSerializer, **ERRORS},
    )
    def get(self, request: ApiRequest, product_id: str) -> Response:
        return Response(serializers.product_to_dict(_product_or_404(request, product_id)))

    @extend_schema(
        operation_id="products_upsert",
        description="Create the product with this id, or replace it whole: a field left "
        "out takes its default. 201 when created, 200 when replaced or unchanged.",
        request=serializers.ProductSerializer,
        responses={
            200: serializers.ProductSerializer,
            201: serializers.ProductSerializer,
            **ERRORS,
        },
    )
    def put(self, request: ApiRequest, product_id: str) -> Response:
        body = dict(request_object(request.data))
        given = body.setdefault("product_id", product_id)
        if given != product_id:
            raise InvalidInput(
                "product_id differs from the address.",
                fields={"product_id": ["must be the product id in the address"]},
            )
        data, errors = clean_product(body, default_currency=request.workspace.currency)
        if errors:
            raise _refuse(errors)
        (result,) = services.products_upsert(
            workspace=request.workspace, items=[data], actor=request.actor, source="api"
        )
        product = _product_or_404(request, data["product_id"])
        code = status.HTTP_201_CREATED if result.status == "created" else status.HTTP_200_OK
        return Response(serializers.product_to_dict(product), status=code)

    @extend_schema(
        operation_id="products_deactivate",
        description="Deactivate the product (active: false): it leaves what messages and "
        "recommendations offer, and events that name it still find it. Upsert it with "
        "active: true to bring it back.",
        responses={204: None, **ERRORS},
    )
    def delete(self, request: ApiRequest, product_id: str) -> Response:
        product = _product_or_404(request, product_id)
        services.product_deactivate(product=product, actor=request.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProductBatchView(APIView):
    @extend_schema(
        operation_id="products_batch_upsert",
        description="Create or replace up to 1000 products, matched by product_id, in one "
        "statement. Valid items are kept when others fail.",
        request=serializers.ProductBatchSerializer,
        responses={200: serializers.ProductBatchResponseSerializer, **ERRORS},
    )
    def post(self, request: ApiRequest) -> Response:
        items = _items(request_object(request.data))
        currency = request.workspace.currency
        return Response(
            batch_answer(
                items,
                lambda item: clean_product(item, default_currency=currency),
                lambda cleaned: services.products_upsert(
                    workspace=request.workspace, items=cleaned, actor=request.actor, source="api"
                ),
            )
        )


def _items(body: dict[str, Any]) -> list[Any]:
    unknown = sorted(set(body) - {"products"})
    if unknown:
        raise InvalidInput(
            f"Unknown fields: {', '.join(unknown)}.", fields={k: ["unknown field"] for k in unknown}
        )
    items = body.get("products")
    if not isinstance(items, list):
        raise InvalidInput("products must be a list.", fields={"products": ["must be a list"]})
    if not items:
        raise InvalidInput("products is empty.", fields={"products": ["must not be empty"]})
    limit = settings.API_BATCH_MAX_ITEMS
    if len(items) > limit:
        raise InvalidInput(
            f"products has {len(items)} items; at most {limit} per request.",
            fields={"products": [f"at most {limit} items per request"]},
        )
    return items


class UnknownProductListView(APIView):
    pagination_class = KeysetPagination

    @extend_schema(
        operation_id="products_unknown_list",
        description="Product ids that events (line items, a product viewed) named and "
        "the catalogue does not hold, by product_id: what the catalogue is missing.",
        responses={200: serializers.UnknownProductSerializer(many=True), **ERRORS},
    )
    def get(self, request: ApiRequest) -> Response:
        return keyset_response(
            request,
            selectors.unknown_products(workspace=request.workspace),
            keys=["product_id"],
            item=serializers.unknown_product_to_dict,
        )
