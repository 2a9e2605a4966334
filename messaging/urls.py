from django.urls import path

from messaging import views, views_contact, views_policies, views_settings

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
    path(
        "contacts/<int:contact_id>/messages/",
        views_contact.contact_messages_panel,
        name="contact-messages-panel",
    ),
    path("settings/sending-rules/", views_policies.settings_policies, name="policies"),
    path("settings/sending/", views_settings.sending_settings, name="sending-settings"),
    path("settings/domains/", views_settings.domain_list, name="domains"),
    path(
        "settings/domains/<int:domain_id>/",
        views_settings.domain_detail,
        name="domain-detail",
    ),
    path(
        "settings/domains/<int:domain_id>/check/",
        views_settings.domain_check,
        name="domain-check",
    ),
    path(
        "settings/domains/<int:domain_id>/delete/",
        views_settings.domain_delete,
        name="domain-delete",
    ),
    path("outbox/<int:message_id>/", views.outbox_message, name="outbox-message"),
]
