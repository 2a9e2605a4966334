from django.urls import path

from analytics import views, views_settings

app_name = "analytics"

urlpatterns = [
    path("analytics/", views.report_page, name="analytics"),
    path("settings/reporting/", views_settings.reporting_settings, name="reporting-settings"),
    path("analytics/spend/", views.spend_list, name="analytics-spend"),
    path(
        "analytics/spend/<int:spend_id>/delete/", views.spend_remove, name="analytics-spend-delete"
    ),
    path("analytics/clv/refit/", views.clv_refit, name="analytics-clv-refit"),
    path("analytics/<slug:key>/", views.report_page, name="analytics-report"),
]
