from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "lifecycle"

    def ready(self) -> None:
        from lifecycle.rules import register_lifecycle_fields

        register_lifecycle_fields()
