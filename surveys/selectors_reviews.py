"""Reads of reviews shared by the moderation page, the API and the CSV export: always
scoped to one workspace, filtered by status, survey, product (or order) and rating."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, QuerySet

from config.spreadsheet import csv_writer
from surveys.models import Review, ReviewStatus
from workspaces.models import Workspace

CSV_COLUMNS = (
    "id",
    "status",
    "rating",
    "text",
    "item_kind",
    "item_id",
    "item_name",
    "order_id",
    "author",
    "survey",
    "contact_id",
    "created_at",
    "moderated_at",
)


@dataclass(frozen=True)
class ReviewFilters:
    status: str | None = None
    survey_id: int | None = None
    product: str | None = None
    rating: int | None = None


def reviews_for_workspace(*, workspace: Workspace, filters: ReviewFilters) -> QuerySet[Review]:
    queryset = Review.objects.filter(workspace=workspace).select_related("survey")
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.survey_id:
        queryset = queryset.filter(survey_id=filters.survey_id)
    if filters.product:
        queryset = queryset.filter(item_id=filters.product)
    if filters.rating:
        queryset = queryset.filter(rating=filters.rating)
    return queryset.order_by("-id")


def review_get(*, workspace: Workspace, review_id: Any) -> Review | None:
    if not isinstance(review_id, int):
        return None
    return Review.objects.filter(workspace=workspace, pk=review_id).select_related("survey").first()


def review_status_counts(*, workspace: Workspace) -> dict[str, int]:
    counts = dict(
        Review.objects.filter(workspace=workspace)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return {status: counts.get(status, 0) for status in ReviewStatus.values}


def reviews_csv_lines(queryset: QuerySet[Review]) -> Iterator[str]:
    """The CSV export, a line at a time (cells that a spreadsheet would run are made
    plain text)."""
    writer = csv_writer()
    yield writer.writerow(CSV_COLUMNS)
    for review in queryset.iterator(chunk_size=2000):
        yield writer.writerow(
            [
                review.pk,
                review.status,
                review.rating,
                review.text,
                review.item_kind,
                review.item_id,
                review.item_name,
                review.order_id,
                review.author,
                review.survey.name,
                review.contact_id,
                review.created_at,
                review.moderated_at,
            ]
        )
