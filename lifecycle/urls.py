from django.urls import path

from lifecycle import views, views_sweeps

app_name = "lifecycle"

urlpatterns = [
    path("stages/", views.stage_list, name="stages"),
    path("stages/new/", views.stage_edit, name="stage-new"),
    path("stages/sweep/", views_sweeps.sweep_status, name="sweep-status"),
    path("stages/<int:stage_id>/", views.stage_edit, name="stage-edit"),
    path("stages/<int:stage_id>/move/", views.stage_move, name="stage-move"),
    path("stages/<int:stage_id>/remove/", views.stage_remove, name="stage-remove"),
    path(
        "stages/<int:stage_id>/make-default/", views.stage_make_default, name="stage-make-default"
    ),
    path("contacts/<int:contact_id>/stage/", views.contact_stage_panel, name="contact-stage-panel"),
]
