from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "surveys"

    def ready(self) -> None:
        # Registered once the app registry is ready: these modules import models.
        from messaging.personalisation import register_context_provider  # noqa: PLC0415
        from surveys.render import survey_context  # noqa: PLC0415
        from surveys.rules import register_survey_fields  # noqa: PLC0415

        register_survey_fields()
        register_context_provider(survey_context)
