"""Reads of journeys shared by the dashboard and the API."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from campaigns.models import EnrolmentStatus, Journey
from workspaces.models import Workspace


def with_totals(queryset: QuerySet[Journey]) -> QuerySet[Journey]:
    """The list's headline numbers in one grouped query: entered, active (in the
    journey, not held out) and converted, as `journey_totals` counts them."""
    return queryset.annotate(
        n_entered=Count("enrolments"),
        n_active=Count("enrolments", filter=Q(enrolments__status=EnrolmentStatus.ACTIVE)),
        n_converted=Count("enrolments", filter=Q(enrolments__converted_at__isnull=False)),
    )


def journeys_for_workspace(*, workspace: Workspace) -> QuerySet[Journey]:
    return with_totals(Journey.objects.filter(workspace=workspace)).order_by("-id")


def journey_get(*, workspace: Workspace, journey_id: object) -> Journey | None:
    try:
        pk = int(str(journey_id))
    except ValueError:
        return None
    return Journey.objects.filter(workspace=workspace, pk=pk).select_related("workspace").first()
