"""REST API v1 for recommendations, served from the stored pairs and popularity:
products bought together with a product, and what to offer one contact."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers as drf
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import recommendations, selectors, serializers
from catalog.recommendations import CONTACT_KINDS, PRODUCT_KINDS, Offer, Recommendation
from config.errors import InvalidInput, NotFound
from config.openapi import ERRORS
from config.query import QueryParam, enum_param, openapi, query_values, text_param
from contacts import selectors as contact_selectors
from workspaces.api_auth import ApiRequest

# At most this many ids in at most 400 characters: the URL stays under its 8000 bytes
# (config/middleware.py) whatever the characters, so a bad list is a 400, not a 414.
EXCLUDE_MAX = 40
PRICE = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"
PARAMS = [
    QueryParam("n", {"type": "integer", "minimum": 1, "maximum": 50}, "how many (default 10)"),
    enum_param("in_stock", ["true", "false"], "only products in stock (default true)"),
    text_param("category", "only products of this category"),
    QueryParam(
        "price_min",
        {"type": "string", "pattern": PRICE, "x-pattern-reason": "must be a price like 12.50"},
        "only products priced at least this",
    ),
    QueryParam(
        "price_max",
        {"type": "string", "pattern": PRICE, "x-pattern-reason": "must be a price like 12.50"},
        "only products priced at most this",
    ),
    text_param(
        "exclude",
        f"product ids never to offer, comma-separated (at most {EXCLUDE_MAX})",
        max_length=400,
    ),
]
RESULTS = inline_serializer(
    "RecommendationList",
    {
        "results": drf.ListField(
            child=inline_serializer(
                "Recommendation",
                {
                    "kind": drf.ChoiceField([*CONTACT_KINDS, *PRODUCT_KINDS]),
                    "score": drf.FloatField(
                        help_text="the kind's score: similarity, lift, buyers, trend, or "
                        "the arrival time (epoch seconds)"
                    ),
                    "product": serializers.ProductSerializer(),
                },
            )
        )
    },
)


def _answer(found: list[Recommendation]) -> Response:
    return Response(
        {
            "results": [
                {
                    "kind": r.kind,
                    "score": r.score,
                    "product": serializers.product_to_dict(r.product),
                }
                for r in found
            ]
        }
    )


CONTACT_PARAMS = [
    enum_param("kind", CONTACT_KINDS, "which recommendations (default for_you)"),
    *PARAMS,
]
PRODUCT_PARAMS = [
    enum_param("kind", PRODUCT_KINDS, "which neighbours (default bought_together)"),
    *PARAMS,
]


def _options(request: ApiRequest, declared: list[QueryParam], kind: str) -> dict[str, Any]:
    values = query_values(request.query_params, declared)
    exclude = frozenset(p.strip() for p in values.get("exclude", "").split(",") if p.strip())
    if len(exclude) > EXCLUDE_MAX:
        reason = f"at most {EXCLUDE_MAX} product ids"
        raise InvalidInput(f"exclude: {reason}", fields={"exclude": [reason]})
    offer = Offer(
        in_stock_only=values.get("in_stock", "true") == "true",
        category=values.get("category") or None,
        exclude=exclude,
        price_min=Decimal(values["price_min"]) if "price_min" in values else None,
        price_max=Decimal(values["price_max"]) if "price_max" in values else None,
    )
    low, high = offer.price_min, offer.price_max
    if low is not None and high is not None and low > high:
        reason = "must not be below price_min"
        raise InvalidInput(f"price_max: {reason}", fields={"price_max": [reason]})
    return {"n": values.get("n", 10), "offer": offer, "kind": values.get("kind", kind)}


class ProductSimilarView(APIView):
    @extend_schema(
        operation_id="products_similar",
        description="Products bought together with this one (by the same contacts), best "
        "lift first, or co-viewed with it (kind=co_viewed, best cosine first), from the "
        "last nightly compute; active ones only.",
        parameters=openapi(PRODUCT_PARAMS),
        responses={200: RESULTS, **ERRORS},
    )
    def get(self, request: ApiRequest, product_id: str) -> Response:
        product = selectors.product_get(workspace=request.workspace, product_id=product_id)
        if product is None:
            raise NotFound("No such product.")
        return _answer(
            recommendations.similar_products(
                product=product, **_options(request, PRODUCT_PARAMS, "bought_together")
            )
        )


class ContactRecommendationsView(APIView):
    @extend_schema(
        operation_id="contacts_recommendations",
        description="What to offer this contact, from storage: for_you (their own list, "
        "from their purchases and views), popular, trending or new_arrivals, then the most "
        "popular to make up n; never what they bought (a consumable, once bought longer "
        "ago than its attributes.repurchase_days); active ones only.",
        parameters=openapi(CONTACT_PARAMS),
        responses={200: RESULTS, **ERRORS},
    )
    def get(self, request: ApiRequest, contact_id: int) -> Response:
        contact = contact_selectors.contact_get(workspace=request.workspace, contact_id=contact_id)
        if contact is None:
            raise NotFound("No such contact.")
        return _answer(
            recommendations.recommendations_for_contact(
                contact=contact, **_options(request, CONTACT_PARAMS, "for_you")
            )
        )
