from django.urls import path

from campaigns.broadcasts import api as api_broadcasts
from campaigns.journeys import api as api_journeys

app_name = "campaigns_api"

urlpatterns = [
    # Broadcasts.
    path("campaigns/", api_broadcasts.BroadcastListView.as_view(), name="api-campaigns"),
    path(
        "campaigns/audience-count/",
        api_broadcasts.AudienceCountView.as_view(),
        name="api-campaigns-audience-count",
    ),
    path(
        "campaigns/<int:broadcast_id>/",
        api_broadcasts.BroadcastDetailView.as_view(),
        name="api-campaign",
    ),
    path(
        "campaigns/<int:broadcast_id>/audience-count/",
        api_broadcasts.BroadcastAudienceCountView.as_view(),
        name="api-campaign-audience-count",
    ),
    *[
        path(
            f"campaigns/<int:broadcast_id>/{action}/",
            view.as_view(),
            name=f"api-campaign-{action}",
        )
        for action, view in (
            ("schedule", api_broadcasts.BroadcastScheduleView),
            ("pause", api_broadcasts.BroadcastPauseView),
            ("resume", api_broadcasts.BroadcastResumeView),
            ("cancel", api_broadcasts.BroadcastCancelView),
        )
    ],
    # Journeys.
    path("journeys/", api_journeys.JourneyListView.as_view(), name="api-journeys"),
    path(
        "journeys/<int:journey_id>/",
        api_journeys.JourneyDetailView.as_view(),
        name="api-journey",
    ),
    *[
        path(
            f"journeys/<int:journey_id>/{action}/",
            view.as_view(),
            name=f"api-journey-{action}",
        )
        for action, view in (
            ("schedule", api_journeys.JourneyScheduleView),
            ("pause", api_journeys.JourneyPauseView),
            ("resume", api_journeys.JourneyResumeView),
            ("cancel", api_journeys.JourneyCancelView),
            ("enrol", api_journeys.JourneyEnrolView),
        )
    ],
]
