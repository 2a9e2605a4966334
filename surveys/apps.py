from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "surveys"

    def ready(self) -> None:
        # Registered once the app registry is ready: these modules import models.
        from contacts.panels import ContactPanel, register_contact_panel  # noqa: PLC0415
        from messaging.blocks.kinds import register_block_kind  # noqa: PLC0415
        from messaging.inbound import register_inbound_sms_handler  # noqa: PLC0415
        from messaging.personalisation import register_context_provider  # noqa: PLC0415
        from surveys.blocks import SURVEY_BLOCK  # noqa: PLC0415
        from surveys.render import survey_context  # noqa: PLC0415
        from surveys.rules import register_survey_fields  # noqa: PLC0415
        from surveys.services.replies import sms_reply_answer  # noqa: PLC0415

        register_survey_fields()
        register_context_provider(survey_context)
        register_inbound_sms_handler(sms_reply_answer)
        register_block_kind("survey", SURVEY_BLOCK)
        register_contact_panel(ContactPanel("Surveys", "surveys:contact-surveys-panel", "side"))
