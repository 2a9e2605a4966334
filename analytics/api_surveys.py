"""REST API v1 for a survey's results, computed from the survey rollups (analytics owns
reporting; surveys, to the left in the import order, owns the surveys and answers):
`/api/v1/surveys/{id}/results/` and its comments."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.figures.surveys import (
    CATEGORY_NAMES,
    SurveyQuery,
    parse_category,
    parse_survey_query,
    score_category,
    survey_comments,
)
from analytics.report_cache import survey_figures
from config.errors import NotFound
from config.openapi import ERRORS
from config.pagination import KeysetPagination, keyset_response
from config.query import QueryParam, date_param, enum_param, id_param, openapi, query_values
from surveys.models import Survey, SurveyResponse
from surveys.selectors import survey_get
from workspaces.api_auth import ApiRequest

PARAMETERS = [
    date_param("start", "first local day (default: 89 days before end)"),
    date_param("end", "last local day (default: today)"),
    enum_param("granularity", ["day", "week", "month"], "trend buckets (default: week)"),
    QueryParam(
        "stage",
        {"type": "string", "maxLength": 200},
        "only answers given in this stage (its name when answering)",
    ),
    id_param("segment", "only answers of the segment's current members (its id)"),
]
COMMENT_PARAMETERS = [
    *PARAMETERS,
    enum_param(
        "category",
        CATEGORY_NAMES,
        "score category: promoter, passive, detractor (NPS); satisfied, neutral, "
        "dissatisfied (CSAT); easy, neutral, difficult (CES); another kind's lists nothing",
    ),
]


def _query(request: ApiRequest, survey_id: Any, declared: list[QueryParam]) -> SurveyQuery:
    survey = survey_get(workspace=request.workspace, survey_id=survey_id)
    if survey is None:
        raise NotFound("No such survey.")
    query_values(request.query_params, declared)
    return parse_survey_query(request.query_params, workspace=request.workspace, survey=survey)


def comment_to_dict(survey: Survey, row: SurveyResponse) -> dict[str, Any]:
    return {
        "id": row.pk,
        "contact_id": row.contact_id,
        "score": row.score,
        "category": score_category(survey.kind, row.score),
        "stage": row.stage_name,
        "channel": row.channel,
        "comment": row.comment,
        "answered_at": row.answered_at.isoformat(),
    }


class SurveyResultsView(APIView):
    @extend_schema(
        operation_id="surveys_results",
        description="The survey's figures in the period, from the survey rollups: answers, "
        "NPS (points, with the 95% interval nps_low..nps_high), CSAT (% of 4-5), the mean "
        "(CES), the distribution of scores, the trend per bucket, per stage when answering "
        "(with `sent` and `response_rate`: its email and SMS answers over the survey messages "
        "sent to contacts in that stage when sent), per channel with the response rate "
        "(answers / messages sent to the same contacts: the stage when sent, the segment's "
        "members; none for a segment whose members are still being built), per journey, "
        "and `by_segment` (one row per segment: answers, NPS with its interval, CSAT, mean, "
        "sent, response_rate; `ready` false and no figures while its members are being "
        "built). `computed_at`: the figures include every answer accepted before it (kept "
        "in the figures cache, never more than 15 s behind). Scanner hits never count.",
        parameters=openapi(PARAMETERS),
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
        tags=["surveys"],
    )
    def get(self, request: ApiRequest, survey_id: int) -> Response:
        return Response(survey_figures(_query(request, survey_id, PARAMETERS)))


class SurveyCommentsView(APIView):
    pagination_class = KeysetPagination

    @extend_schema(
        operation_id="surveys_results_comments",
        description="The counted answers with a comment in the period, newest first, "
        "filtered like the results and by score category.",
        parameters=openapi(COMMENT_PARAMETERS),
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
        tags=["surveys"],
    )
    def get(self, request: ApiRequest, survey_id: int) -> Response:
        query = _query(request, survey_id, COMMENT_PARAMETERS)
        category = parse_category(request.query_params)
        return keyset_response(
            request,
            survey_comments(query, category=category),
            keys=["-answered_at", "-id"],
            item=lambda row: comment_to_dict(query.survey, row),
        )
