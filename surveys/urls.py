from django.urls import path

from surveys import views, views_contact, views_reviews

app_name = "surveys"

urlpatterns = [
    path("surveys/", views.survey_list, name="surveys"),
    path("surveys/new/", views.survey_edit, name="survey-new"),
    path("surveys/<int:survey_id>/", views.survey_report, name="survey-report"),
    path("surveys/<int:survey_id>/edit/", views.survey_edit, name="survey-edit"),
    path("surveys/<int:survey_id>/send/", views.survey_send, name="survey-send"),
    path("surveys/<int:survey_id>/delete/", views.survey_delete, name="survey-delete"),
    path(
        "contacts/<int:contact_id>/surveys-panel/",
        views_contact.contact_surveys_panel,
        name="contact-surveys-panel",
    ),
    path("reviews/", views_reviews.review_list, name="reviews"),
    path("reviews/export.csv", views_reviews.review_export, name="reviews-export"),
    path(
        "reviews/<int:review_id>/<str:action>/",
        views_reviews.review_moderation,
        name="review-moderate",
    ),
]
