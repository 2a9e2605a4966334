from django.urls import path

from lifecycle import views, views_sweeps, views_whatif

app_name = "lifecycle"

urlpatterns = [
    path("stages/", views.stage_list, name="stages"),
    path("stages/new/", views.stage_edit, name="stage-new"),
    path("stages/sweep/", views_sweeps.sweep_status, name="sweep-status"),
    path("stages/what-if/", views_whatif.stage_whatif, name="stage-whatif"),
    path("stages/what-if/funnel/", views_whatif.whatif_funnel_new, name="whatif-funnel-new"),
    path(
        "stages/what-if/funnel/<int:run_id>/",
        views_whatif.whatif_funnel_status,
        name="whatif-funnel-status",
    ),
    path("stages/<int:stage_id>/", views.stage_edit, name="stage-edit"),
    path("stages/<int:stage_id>/move/", views.stage_move, name="stage-move"),
    path("stages/<int:stage_id>/remove/", views.stage_remove, name="stage-remove"),
    path(
        "stages/<int:stage_id>/make-default/", views.stage_make_default, name="stage-make-default"
    ),
    path("contacts/<int:contact_id>/stage/", views.contact_stage_panel, name="contact-stage-panel"),
]
