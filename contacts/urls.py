from django.urls import path

from contacts import views

app_name = "contacts"

urlpatterns = [
    path("contacts/", views.contact_list, name="contacts"),
    path("contacts/views/", views.saved_view_save, name="saved-view-save"),
    path("contacts/views/<int:view_id>/delete/", views.saved_view_remove, name="saved-view-remove"),
    path("contacts/export.csv", views.contact_export, name="contacts-export"),
    path("contacts/exports/", views.contact_export_start, name="contacts-export-start"),
    path(
        "contacts/exports/status/",
        views.contact_export_status_panel,
        name="contacts-export-status",
    ),
    path(
        "contacts/exports/<str:token>/download/",
        views.contact_export_download,
        name="contacts-export-download",
    ),
    path("contacts/<int:contact_id>/", views.contact_detail, name="contact-detail"),
    path(
        "contacts/<int:contact_id>/signed-up/", views.contact_signup_set, name="contact-signup-set"
    ),
    path("contacts/<int:contact_id>/erase/", views.contact_erase, name="contact-erase"),
    path("segments/", views.segment_list, name="segments"),
    path("segments/new/", views.segment_edit, name="segment-new"),
    path("segments/<int:segment_id>/", views.segment_contacts, name="segment-contacts"),
    path("segments/<int:segment_id>/edit/", views.segment_edit, name="segment-edit"),
    path("segments/<int:segment_id>/count/", views.segment_count, name="segment-count"),
    path("segments/<int:segment_id>/delete/", views.segment_delete, name="segment-delete"),
    path("rules/catalog.json", views.rule_catalog, name="rule-catalog"),
    path("rules/preview/", views.rule_preview, name="rule-preview"),
    path("imports/", views.import_list, name="imports"),
    path("imports/<int:import_id>/", views.import_detail, name="import-detail"),
    path("imports/<int:import_id>/rejected.csv", views.import_errors_csv, name="import-errors-csv"),
]
