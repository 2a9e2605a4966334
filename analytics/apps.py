from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"

    def ready(self) -> None:
        from analytics import rollups
        from analytics.rules import register_analytics_fields
        from contacts.hooks import on_contact_erased
        from lifecycle.hooks import on_contacts_refreshed, on_stage_changed

        on_stage_changed(rollups.on_stage_changed)
        on_contacts_refreshed(rollups.on_contacts_refreshed)
        on_contact_erased(rollups.on_contact_erased)
        register_analytics_fields()
