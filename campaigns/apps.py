from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self) -> None:
        # Hooks are registered once the app registry is ready: the services import
        # models, which cannot be imported while apps are still loading.
        from campaigns.broadcasts.services import broadcast_send_now  # noqa: PLC0415
        from campaigns.engagement import register_engagement_condition  # noqa: PLC0415
        from campaigns.journeys import triggers  # noqa: PLC0415
        from contacts.panels import ContactPanel, register_contact_panel  # noqa: PLC0415
        from lifecycle.hooks import on_contacts_refreshed, on_stage_changed  # noqa: PLC0415
        from loyalty.hooks import on_loyalty_news  # noqa: PLC0415
        from loyalty.hooks_referrals import on_referral_converted  # noqa: PLC0415
        from surveys.hooks import on_survey_answered, register_audience_sender  # noqa: PLC0415

        register_engagement_condition()
        register_audience_sender(broadcast_send_now)
        on_stage_changed(triggers.on_stage_changed)
        on_contacts_refreshed(triggers.on_contacts_refreshed)
        on_survey_answered(triggers.on_survey_answered)
        on_loyalty_news(triggers.on_loyalty_news)
        on_referral_converted(triggers.on_referral_converted)
        register_contact_panel(ContactPanel("Journeys", "campaigns:contact-journeys-panel", "main"))
