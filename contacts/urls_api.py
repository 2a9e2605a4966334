from django.urls import path

from contacts import api, api_imports, api_segments

app_name = "contacts_api"

urlpatterns = [
    path("contacts/", api.ContactListView.as_view(), name="api-contacts"),
    path("contacts/batch/", api.ContactBatchView.as_view(), name="api-contacts-batch"),
    path("contacts/export/", api.ContactExportView.as_view(), name="api-contacts-export"),
    path("contacts/<int:contact_id>/", api.ContactDetailView.as_view(), name="api-contact"),
    path(
        "contacts/<int:contact_id>/events/",
        api.ContactEventsView.as_view(),
        name="api-contact-events",
    ),
    path("events/", api.EventIngestView.as_view(), name="api-events"),
    path("segments/", api_segments.SegmentListView.as_view(), name="api-segments"),
    path(
        "segments/preview/", api_segments.SegmentPreviewView.as_view(), name="api-segments-preview"
    ),
    path(
        "segments/<int:segment_id>/", api_segments.SegmentDetailView.as_view(), name="api-segment"
    ),
    path(
        "segments/<int:segment_id>/contacts/",
        api_segments.SegmentContactsView.as_view(),
        name="api-segment-contacts",
    ),
    path("imports/", api_imports.ImportListView.as_view(), name="api-imports"),
    path("imports/<int:import_id>/", api_imports.ImportDetailView.as_view(), name="api-import"),
    path(
        "imports/<int:import_id>/start/",
        api_imports.ImportStartView.as_view(),
        name="api-import-start",
    ),
    path(
        "imports/<int:import_id>/errors/",
        api_imports.ImportErrorsView.as_view(),
        name="api-import-errors",
    ),
]
