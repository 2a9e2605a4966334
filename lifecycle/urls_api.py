from django.urls import path

from lifecycle import api, api_history, api_whatif

app_name = "lifecycle_api"

urlpatterns = [
    path("stages/", api.StageListView.as_view(), name="api-stages"),
    path("stages/reorder/", api.StageReorderView.as_view(), name="api-stages-reorder"),
    path("stages/preview/", api_whatif.StagePreviewView.as_view(), name="api-stages-preview"),
    path(
        "stages/preview/funnel/",
        api_whatif.StagePreviewFunnelView.as_view(),
        name="api-stages-preview-funnel",
    ),
    path(
        "stages/preview/funnel/<int:whatif_run_id>/",
        api_whatif.StagePreviewFunnelDetailView.as_view(),
        name="api-stages-preview-funnel-run",
    ),
    path("stages/<int:stage_id>/", api.StageDetailView.as_view(), name="api-stage"),
    path(
        "stages/<int:stage_id>/make-default/",
        api.StageMakeDefaultView.as_view(),
        name="api-stage-make-default",
    ),
    path(
        "contacts/<int:contact_id>/stage/", api.ContactStageView.as_view(), name="api-contact-stage"
    ),
    path(
        "contacts/<int:contact_id>/stage/unpin/",
        api.ContactStageUnpinView.as_view(),
        name="api-contact-stage-unpin",
    ),
    path(
        "contacts/<int:contact_id>/transitions/",
        api_history.ContactTransitionsView.as_view(),
        name="api-contact-transitions",
    ),
]
