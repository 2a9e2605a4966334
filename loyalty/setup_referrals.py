"""What the referral programme registers with other apps at start-up (called from
LoyaltyConfig.ready(), after earning, so a purchase earns before it converts)."""

from __future__ import annotations


def referrals_register() -> None:
    # Imported here: these modules import models, which the app registry must have
    # loaded first; the task module is imported so that Celery knows its task.
    from contacts.hooks import register_contact_extra_field  # noqa: PLC0415
    from contacts.panels import ContactPanel, register_contact_panel  # noqa: PLC0415
    from lifecycle.hooks import on_contacts_refreshed  # noqa: PLC0415
    from loyalty import tasks_referrals  # noqa: F401, PLC0415
    from loyalty.rules_referrals import register_referral_conditions  # noqa: PLC0415
    from loyalty.services.referrals_attribution import REFERRED_BY  # noqa: PLC0415
    from loyalty.services.referrals_conversion import referrals_for_refreshed  # noqa: PLC0415

    register_contact_extra_field(REFERRED_BY)
    register_referral_conditions()
    on_contacts_refreshed(referrals_for_refreshed)
    register_contact_panel(
        ContactPanel("Referrals", "loyalty_referrals:contact-referrals-panel", "side")
    )
