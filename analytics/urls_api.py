from django.urls import path

from analytics import api, api_settings
from analytics.reports import REPORTS

app_name = "analytics_api"

urlpatterns = [
    *(
        path(f"analytics/{key}/", api.report_view(key).as_view(), name=f"api-analytics-{key}")
        for key in REPORTS
    ),
    path(
        "settings/reporting/",
        api_settings.ReportingSettingsView.as_view(),
        name="api-settings-reporting",
    ),
    path("analytics/clv/model/", api.ClvModelView.as_view(), name="api-analytics-clv-model"),
    path(
        "analytics/campaigns/<int:broadcast_id>/performance/",
        api.CampaignPerformanceView.as_view(),
        name="api-analytics-campaign-performance",
    ),
    path(
        "analytics/journeys/<int:journey_id>/performance/",
        api.JourneyPerformanceView.as_view(),
        name="api-analytics-journey-performance",
    ),
    path("analytics/spend/", api.SpendListView.as_view(), name="api-analytics-spend"),
    path(
        "analytics/spend/<int:spend_id>/",
        api.SpendDetailView.as_view(),
        name="api-analytics-spend-detail",
    ),
]
