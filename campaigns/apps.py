from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self) -> None:
        from campaigns import erasure
        from contacts.hooks import on_contact_erased

        on_contact_erased(erasure.messages_erase_for_contact)

        from campaigns.services import journey_triggers
        from lifecycle.hooks import on_contacts_refreshed, on_stage_changed

        on_stage_changed(journey_triggers.on_stage_changed)
        on_contacts_refreshed(journey_triggers.on_contacts_refreshed)

        from anymail.signals import tracking

        from campaigns.services.anymail_events import anymail_tracking_received

        tracking.connect(anymail_tracking_received, dispatch_uid="campaigns.anymail_tracking")
