from django.urls import path

from contacts import views

urlpatterns = [
    path("contacts/", views.contact_list, name="contacts"),
    path("contacts/export.csv", views.contact_export, name="contacts-export"),
    path("contacts/<int:contact_id>/", views.contact_detail, name="contact-detail"),
    path("contacts/<int:contact_id>/erase/", views.contact_erase, name="contact-erase"),
    path("imports/", views.import_list, name="imports"),
    path("imports/<int:import_id>/", views.import_detail, name="import-detail"),
    path("imports/<int:import_id>/rejected.csv", views.import_errors_csv, name="import-errors-csv"),
]
