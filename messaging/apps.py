from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"

    def ready(self) -> None:
        # Hooks are registered once the app registry is ready: the modules import
        # models, which cannot be imported while apps are still loading.
        from anymail.signals import tracking  # noqa: PLC0415

        from contacts.hooks import on_contact_erased  # noqa: PLC0415
        from contacts.panels import ContactPanel, register_contact_panel  # noqa: PLC0415
        from messaging import erasure  # noqa: PLC0415
        from messaging.services.anymail_events import anymail_tracking_received  # noqa: PLC0415

        on_contact_erased(erasure.messages_erase_for_contact)
        register_contact_panel(ContactPanel("Messages", "messaging:contact-messages-panel", "main"))
        tracking.connect(anymail_tracking_received, dispatch_uid="messaging.anymail_tracking")
