from django.urls import path

from surveys import api

app_name = "surveys_api"

urlpatterns = [
    path("surveys/", api.SurveyListView.as_view(), name="api-surveys"),
    path("surveys/<int:survey_id>/", api.SurveyDetailView.as_view(), name="api-survey"),
    path(
        "surveys/<int:survey_id>/responses/",
        api.SurveyResponsesView.as_view(),
        name="api-survey-responses",
    ),
    path("surveys/<int:survey_id>/send/", api.SurveySendView.as_view(), name="api-survey-send"),
    path("surveys/<int:survey_id>/ask/", api.SurveyAskView.as_view(), name="api-survey-ask"),
]
