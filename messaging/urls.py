from django.urls import path

from messaging import views

app_name = "messaging"

urlpatterns = [
    path("templates/", views.template_list, name="templates"),
    path("templates/new/", views.template_edit, name="template-new"),
    path("templates/preview/", views.template_preview_panel, name="template-preview"),
    path(
        "templates/contacts/",
        views.template_contact_suggestions,
        name="template-contact-suggestions",
    ),
    path("templates/media/", views.media_upload, name="media-upload"),
    path("templates/<int:template_id>/", views.template_edit, name="template-edit"),
    path(
        "templates/<int:template_id>/send-test/",
        views.template_send_test,
        name="template-send-test",
    ),
    path("templates/<int:template_id>/delete/", views.template_delete, name="template-delete"),
    path("outbox/", views.outbox, name="outbox"),
    path("outbox/<int:message_id>/", views.outbox_message, name="outbox-message"),
]
