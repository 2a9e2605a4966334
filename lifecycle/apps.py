from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "lifecycle"

    def ready(self) -> None:
        # Registered once the app registry is ready: these modules import models.
        from contacts.hooks import on_mark_urgency  # noqa: PLC0415
        from contacts.import_kinds import register_import_kind  # noqa: PLC0415
        from contacts.panels import (  # noqa: PLC0415
            ContactPanel,
            register_contact_column,
            register_contact_panel,
        )
        from lifecycle.columns import STAGE_COLUMN  # noqa: PLC0415
        from lifecycle.rules import register_lifecycle_fields  # noqa: PLC0415
        from lifecycle.services import stages_create_defaults  # noqa: PLC0415
        from lifecycle.services.history_csv import STAGE_HISTORY_IMPORT  # noqa: PLC0415
        from lifecycle.urgency import stage_news_urgency  # noqa: PLC0415
        from workspaces.hooks import on_workspace_created  # noqa: PLC0415

        register_lifecycle_fields()
        register_contact_panel(
            ContactPanel("Lifecycle stage", "lifecycle:contact-stage-panel", "main")
        )
        register_contact_column(STAGE_COLUMN)
        register_import_kind(STAGE_HISTORY_IMPORT)
        on_mark_urgency(stage_news_urgency)
        on_workspace_created(lambda workspace: stages_create_defaults(workspace=workspace))
