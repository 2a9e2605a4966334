from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"

    def ready(self) -> None:
        from django.db.models.signals import pre_delete

        from analytics import rollups
        from analytics.rules import register_analytics_fields
        from contacts.hooks import on_contact_erased
        from lifecycle.hooks import on_contacts_refreshed, on_stage_changed
        from lifecycle.models import Stage
        from workspaces.models import Workspace

        on_stage_changed(rollups.on_stage_changed)
        on_contacts_refreshed(rollups.on_contacts_refreshed)
        on_contact_erased(rollups.on_contact_erased)
        register_analytics_fields()
        pre_delete.connect(rollups.on_workspace_deleted, sender=Workspace)
        pre_delete.connect(rollups.on_stage_deleted, sender=Stage)
