from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "lifecycle"

    def ready(self) -> None:
        from contacts.panels import ContactPanel, register_contact_panel
        from lifecycle.rules import register_lifecycle_fields

        register_lifecycle_fields()
        register_contact_panel(ContactPanel("Lifecycle stage", "contact-stage-panel", "main"))
