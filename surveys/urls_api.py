from django.urls import path

from surveys import api, api_contact, api_reviews

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
    path(
        "contacts/<int:contact_id>/survey-answers/",
        api_contact.ContactAnswersView.as_view(),
        name="api-contact-survey-answers",
    ),
    path("reviews/", api_reviews.ReviewListView.as_view(), name="api-reviews"),
    path("reviews/export/", api_reviews.ReviewExportView.as_view(), name="api-reviews-export"),
    path("reviews/<int:review_id>/", api_reviews.ReviewDetailView.as_view(), name="api-review"),
    path(
        "reviews/<int:review_id>/moderate/",
        api_reviews.ReviewModerateView.as_view(),
        name="api-review-moderate",
    ),
]
