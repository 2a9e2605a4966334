from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self) -> None:
        from campaigns import erasure
        from contacts.hooks import on_contact_erased

        on_contact_erased(erasure.messages_erase_for_contact)
