from django.urls import path

from messaging import api, api_consent, api_media, api_policies, api_settings

app_name = "messaging_api"

urlpatterns = [
    path("templates/", api.TemplateListView.as_view(), name="api-templates"),
    path("templates/<int:template_id>/", api.TemplateDetailView.as_view(), name="api-template"),
    path(
        "templates/<int:template_id>/preview/",
        api.TemplatePreviewView.as_view(),
        name="api-template-preview",
    ),
    path(
        "templates/<int:template_id>/send-test/",
        api.TemplateSendTestView.as_view(),
        name="api-template-send-test",
    ),
    path("messages/", api.MessageListView.as_view(), name="api-messages"),
    path("media/", api_media.MediaListView.as_view(), name="api-media"),
    path("media/<int:media_id>/", api_media.MediaDetailView.as_view(), name="api-media-file"),
    path("messages/<int:message_id>/", api.MessageDetailView.as_view(), name="api-message"),
    path(
        "contacts/<int:contact_id>/consent/",
        api_consent.ContactConsentView.as_view(),
        name="api-contact-consent",
    ),
    path(
        "settings/sending-rules/",
        api_policies.SendingRulesListView.as_view(),
        name="api-settings-sending-rules",
    ),
    path(
        "settings/sending-rules/<str:channel>/",
        api_policies.SendingRulesDetailView.as_view(),
        name="api-settings-sending-rule",
    ),
    path("settings/sender/", api_settings.SenderSettingsView.as_view(), name="api-settings-sender"),
    path(
        "settings/domains/",
        api_settings.SendingDomainListView.as_view(),
        name="api-settings-domains",
    ),
    path(
        "settings/domains/<int:domain_id>/",
        api_settings.SendingDomainDetailView.as_view(),
        name="api-settings-domain",
    ),
    path(
        "settings/domains/<int:domain_id>/verify/",
        api_settings.SendingDomainVerifyView.as_view(),
        name="api-settings-domain-verify",
    ),
    path("consent/export/", api_consent.ConsentExportView.as_view(), name="api-consent-export"),
]
