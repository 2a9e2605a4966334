from django.urls import path

from analytics import (
    views,
    views_broadcast,
    views_contact,
    views_rebuild,
    views_settings,
    views_survey,
)

app_name = "analytics"

urlpatterns = [
    path("analytics/", views.report_page, name="analytics"),
    path(
        "campaigns/<int:broadcast_id>/report/",
        views_broadcast.broadcast_report,
        name="broadcast-report",
    ),
    path(
        "campaigns/<int:broadcast_id>/progress/",
        views_broadcast.broadcast_progress,
        name="broadcast-progress",
    ),
    path("surveys/<int:survey_id>/report/", views_survey.survey_report, name="survey-report"),
    path(
        "contacts/<int:contact_id>/value/",
        views_contact.contact_value_panel,
        name="contact-value-panel",
    ),
    path("settings/reporting/", views_settings.reporting_settings, name="reporting-settings"),
    path("analytics/spend/", views.spend_list, name="analytics-spend"),
    path(
        "analytics/spend/<int:spend_id>/delete/", views.spend_remove, name="analytics-spend-delete"
    ),
    path("analytics/rebuild/", views_rebuild.rollup_rebuild, name="analytics-rebuild"),
    path(
        "analytics/rebuild/status/",
        views_rebuild.rollup_rebuild_status_panel,
        name="analytics-rebuild-status",
    ),
    path("analytics/clv/refit/", views.clv_refit, name="analytics-clv-refit"),
    path(
        "analytics/clv/refit/status/",
        views.clv_refit_status_panel,
        name="analytics-clv-refit-status",
    ),
    path("analytics/<slug:key>/", views.report_page, name="analytics-report"),
]
