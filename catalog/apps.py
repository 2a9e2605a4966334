from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"

    def ready(self) -> None:
        # Registered once the app registry is ready: these modules import models.
        from catalog.services.products_csv import PRODUCTS_IMPORT  # noqa: PLC0415
        from contacts.import_kinds import register_import_kind  # noqa: PLC0415

        register_import_kind(PRODUCTS_IMPORT)
