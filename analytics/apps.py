from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"

    def ready(self) -> None:
        # Registered once the app registry is ready: these modules import models.
        from django.db.models.signals import pre_delete  # noqa: PLC0415

        from analytics import rollups  # noqa: PLC0415
        from analytics.rules import register_analytics_fields  # noqa: PLC0415
        from contacts.hooks import on_contact_erased, on_segment_members_changed  # noqa: PLC0415
        from contacts.panels import ContactPanel, register_contact_panel  # noqa: PLC0415
        from lifecycle.hooks import (  # noqa: PLC0415
            on_contacts_refreshed,
            on_moves_removed,
            on_stage_changed,
        )
        from lifecycle.models import Stage  # noqa: PLC0415
        from surveys.hooks import on_answers_changed  # noqa: PLC0415
        from surveys.models import Survey  # noqa: PLC0415
        from workspaces.models import Workspace  # noqa: PLC0415

        on_stage_changed(rollups.on_stage_changed, history=True)
        on_contacts_refreshed(rollups.on_contacts_refreshed)
        on_moves_removed(rollups.on_moves_removed)
        on_contact_erased(rollups.on_contact_erased)
        on_answers_changed(rollups.on_answers_changed)
        on_segment_members_changed(rollups.on_segment_members_changed)
        register_analytics_fields()
        register_contact_panel(ContactPanel("Value", "analytics:contact-value-panel", "side"))
        pre_delete.connect(rollups.on_workspace_deleted, sender=Workspace)
        pre_delete.connect(rollups.on_stage_deleted, sender=Stage)
        pre_delete.connect(rollups.on_survey_deleted, sender=Survey)
