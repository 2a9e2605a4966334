from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"

    def ready(self) -> None:
        # Registered once the app registry is ready: these modules import models.
        from catalog.blocks import CART_BLOCK, PRODUCT_BLOCK, RECS_BLOCK  # noqa: PLC0415
        from catalog.line_items import line_items_check  # noqa: PLC0415
        from catalog.render import catalog_context  # noqa: PLC0415
        from catalog.services.products_csv import PRODUCTS_IMPORT  # noqa: PLC0415
        from catalog.services.recommendations import (  # noqa: PLC0415
            recommendations_forget_contact,
        )
        from catalog.services.unknown import unknown_products_record  # noqa: PLC0415
        from contacts.hooks import (  # noqa: PLC0415
            on_contact_erased,
            on_events_recorded,
            register_event_check,
        )
        from contacts.import_kinds import register_import_kind  # noqa: PLC0415
        from messaging.blocks.kinds import register_block_kind  # noqa: PLC0415
        from messaging.personalisation import register_context_provider  # noqa: PLC0415

        register_import_kind(PRODUCTS_IMPORT)
        register_event_check(line_items_check)
        on_events_recorded(unknown_products_record)
        on_contact_erased(recommendations_forget_contact)
        register_block_kind("product", PRODUCT_BLOCK)
        register_block_kind("recommendations", RECS_BLOCK)
        register_block_kind("cart", CART_BLOCK)
        register_context_provider(catalog_context)
