"""REST API v1 for recommendations, served from the stored pairs and popularity:
products bought together with a product, and what to offer one contact."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers as drf
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import recommendations, selectors, serializers
from catalog.recommendations import Offer, Recommendation
from config.errors import InvalidInput, NotFound
from config.openapi import ERRORS
from config.query import QueryParam, enum_param, openapi, query_values, text_param
from contacts import selectors as contact_selectors
from workspaces.api_auth import ApiRequest

# At most this many ids in at most 400 characters: the URL stays under its 8000 bytes
# (config/middleware.py) whatever the characters, so a bad list is a 400, not a 414.
EXCLUDE_MAX = 40
PARAMS = [
    QueryParam("n", {"type": "integer", "minimum": 1, "maximum": 50}, "how many (default 10)"),
    enum_param("in_stock", ["true", "false"], "only products in stock (default true)"),
    text_param("category", "only products of this category"),
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
                    "kind": drf.ChoiceField(["bought_together", "popular"]),
                    "score": drf.FloatField(
                        help_text="lift (summed over the contact's products) or buyers"
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


def _options(request: ApiRequest) -> dict[str, Any]:
    values = query_values(request.query_params, PARAMS)
    exclude = frozenset(p.strip() for p in values.get("exclude", "").split(",") if p.strip())
    if len(exclude) > EXCLUDE_MAX:
        reason = f"at most {EXCLUDE_MAX} product ids"
        raise InvalidInput(f"exclude: {reason}", fields={"exclude": [reason]})
    offer = Offer(
        in_stock_only=values.get("in_stock", "true") == "true",
        category=values.get("category") or None,
        exclude=exclude,
    )
    return {"n": values.get("n", 10), "offer": offer}


class ProductSimilarView(APIView):
    @extend_schema(
        operation_id="products_similar",
        description="Products bought together with this one (by the same contacts), best "
        "lift first, from the last nightly compute; active ones only.",
        parameters=openapi(PARAMS),
        responses={200: RESULTS, **ERRORS},
    )
    def get(self, request: ApiRequest, product_id: str) -> Response:
        product = selectors.product_get(workspace=request.workspace, product_id=product_id)
        if product is None:
            raise NotFound("No such product.")
        return _answer(recommendations.similar_products(product=product, **_options(request)))


class ContactRecommendationsView(APIView):
    @extend_schema(
        operation_id="contacts_recommendations",
        description="What to offer this contact: products bought together with what they "
        "bought, then the most popular; never what they bought; active ones only.",
        parameters=openapi(PARAMS),
        responses={200: RESULTS, **ERRORS},
    )
    def get(self, request: ApiRequest, contact_id: int) -> Response:
        contact = contact_selectors.contact_get(workspace=request.workspace, contact_id=contact_id)
        if contact is None:
            raise NotFound("No such contact.")
        return _answer(
            recommendations.recommendations_for_contact(contact=contact, **_options(request))
        )
