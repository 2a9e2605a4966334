from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "loyalty"

    def ready(self) -> None:
        # Registered once the app registry is ready: these modules import models.
        from contacts.hooks import on_mark_urgency  # noqa: PLC0415
        from contacts.panels import ContactPanel, register_contact_panel  # noqa: PLC0415
        from lifecycle.hooks import on_contacts_refreshed  # noqa: PLC0415
        from loyalty.render import loyalty_context  # noqa: PLC0415
        from loyalty.rules import register_loyalty_fields  # noqa: PLC0415
        from loyalty.services.earning import earn_for_refreshed  # noqa: PLC0415
        from loyalty.setup_referrals import referrals_register  # noqa: PLC0415
        from loyalty.urgency import loyalty_news_urgency  # noqa: PLC0415
        from messaging.personalisation import register_context_provider  # noqa: PLC0415

        register_loyalty_fields()
        on_contacts_refreshed(earn_for_refreshed)
        referrals_register()
        register_context_provider(loyalty_context)
        on_mark_urgency(loyalty_news_urgency)
        register_contact_panel(ContactPanel("Loyalty", "loyalty:contact-loyalty-panel", "side"))
