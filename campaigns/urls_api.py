from django.urls import path

from campaigns import api, api_broadcasts, api_journeys

urlpatterns = [
    path("templates/", api.TemplateListView.as_view(), name="api-templates"),
    path("templates/<int:template_id>/", api.TemplateDetailView.as_view(), name="api-template"),
    path(
        "templates/<int:template_id>/preview/",
        api.TemplatePreviewView.as_view(),
        name="api-template-preview",
    ),
    path(
        "templates/<int:template_id>/send-test/",
        api.TemplateSendTestView.as_view(),
        name="api-template-send-test",
    ),
    path("messages/", api.MessageListView.as_view(), name="api-messages"),
    path("messages/<int:message_id>/", api.MessageDetailView.as_view(), name="api-message"),
    path(
        "contacts/<int:contact_id>/consent/",
        api.ContactConsentView.as_view(),
        name="api-contact-consent",
    ),
    path("consent/export/", api.ConsentExportView.as_view(), name="api-consent-export"),
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
