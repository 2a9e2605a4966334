from django.urls import path

from analytics import api, api_settings, api_surveys
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
    # A survey's results live under the survey's URL; analytics computes them.
    path(
        "surveys/<int:survey_id>/results/",
        api_surveys.SurveyResultsView.as_view(),
        name="api-survey-results",
    ),
    path(
        "surveys/<int:survey_id>/results/comments/",
        api_surveys.SurveyCommentsView.as_view(),
        name="api-survey-results-comments",
    ),
    path("analytics/spend/", api.SpendListView.as_view(), name="api-analytics-spend"),
    path(
        "analytics/spend/<int:spend_id>/",
        api.SpendDetailView.as_view(),
        name="api-analytics-spend-detail",
    ),
]
