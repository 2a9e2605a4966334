from django.urls import path

from surveys import views

app_name = "surveys"

urlpatterns = [
    path("surveys/", views.survey_list, name="surveys"),
    path("surveys/new/", views.survey_edit, name="survey-new"),
    path("surveys/<int:survey_id>/", views.survey_report, name="survey-report"),
    path("surveys/<int:survey_id>/edit/", views.survey_edit, name="survey-edit"),
    path("surveys/<int:survey_id>/send/", views.survey_send, name="survey-send"),
    path("surveys/<int:survey_id>/delete/", views.survey_delete, name="survey-delete"),
]
