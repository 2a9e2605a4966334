from django.urls import path

from campaigns.broadcasts import views as views_broadcasts
from campaigns.journeys import views as views_journeys
from campaigns.journeys import views_contact as views_journey_contact

app_name = "campaigns"

urlpatterns = [
    path("campaigns/", views_broadcasts.broadcast_list, name="broadcasts"),
    path("campaigns/new/", views_broadcasts.broadcast_edit, name="broadcast-new"),
    path(
        "campaigns/audience/",
        views_broadcasts.broadcast_audience_panel,
        name="broadcast-audience",
    ),
    path(
        "campaigns/audience/segment-counts/",
        views_broadcasts.broadcast_segment_counts,
        name="broadcast-segment-counts",
    ),
    path(
        "campaigns/preview/",
        views_broadcasts.broadcast_preview,
        name="broadcast-preview",
    ),
    path("campaigns/<int:broadcast_id>/", views_broadcasts.broadcast_edit, name="broadcast-edit"),
    path(
        "campaigns/<int:broadcast_id>/<slug:action>/",
        views_broadcasts.broadcast_action,
        name="broadcast-action",
    ),
    path("journeys/", views_journeys.journey_list, name="journeys"),
    path("journeys/new/", views_journeys.journey_edit, name="journey-new"),
    path("journeys/<int:journey_id>/", views_journeys.journey_edit, name="journey-edit"),
    path(
        "contacts/<int:contact_id>/journeys/",
        views_journey_contact.contact_journeys_panel,
        name="contact-journeys-panel",
    ),
    path(
        "journeys/<int:journey_id>/add-contacts/",
        views_journeys.journey_contacts_add,
        name="journey-contacts-add",
    ),
    path(
        "journeys/<int:journey_id>/impact/",
        views_journeys.journey_impact,
        name="journey-impact",
    ),
    path(
        "journeys/<int:journey_id>/<slug:action>/",
        views_journeys.journey_action,
        name="journey-action",
    ),
]
