from django.urls import path

from contacts import api

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
    path("imports/", api.ImportListView.as_view(), name="api-imports"),
    path("imports/<int:import_id>/", api.ImportDetailView.as_view(), name="api-import"),
    path("imports/<int:import_id>/start/", api.ImportStartView.as_view(), name="api-import-start"),
    path(
        "imports/<int:import_id>/errors/", api.ImportErrorsView.as_view(), name="api-import-errors"
    ),
]
