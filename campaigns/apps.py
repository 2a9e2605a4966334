from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self) -> None:
        # Hooks are registered once the app registry is ready: the services import
        # models, which cannot be imported while apps are still loading.
        from campaigns.broadcasts.services import broadcast_send_now  # noqa: PLC0415
        from campaigns.engagement import register_engagement_condition  # noqa: PLC0415
        from campaigns.journeys import segment_trigger, triggers  # noqa: PLC0415
        from campaigns.journeys.urgency import journey_news_urgency  # noqa: PLC0415
        from catalog.hooks import on_products_changed  # noqa: PLC0415
        from contacts.hooks import on_mark_urgency  # noqa: PLC0415
        from contacts.panels import ContactPanel, register_contact_panel  # noqa: PLC0415
        from lifecycle.hooks import (  # noqa: PLC0415
            on_contacts_due,
            on_contacts_refreshed,
            on_stage_changed,
            register_due_rules,
        )
        from loyalty.hooks import on_loyalty_news  # noqa: PLC0415
        from loyalty.hooks_referrals import on_referral_converted  # noqa: PLC0415
        from surveys.hooks import on_survey_answered, register_audience_sender  # noqa: PLC0415

        register_engagement_condition()
        register_audience_sender(broadcast_send_now)
        on_stage_changed(triggers.on_stage_changed)
        on_stage_changed(segment_trigger.on_stage_changed)
        on_contacts_refreshed(segment_trigger.on_contacts_refreshed)
        on_contacts_refreshed(triggers.on_contacts_refreshed)
        register_due_rules(segment_trigger.due_rules)
        on_contacts_due(segment_trigger.on_contacts_due)
        on_survey_answered(triggers.on_survey_answered)
        on_loyalty_news(triggers.on_loyalty_news)
        on_referral_converted(triggers.on_referral_converted)
        on_products_changed(triggers.on_products_changed)
        on_mark_urgency(journey_news_urgency)
        register_contact_panel(ContactPanel("Journeys", "campaigns:contact-journeys-panel", "main"))
