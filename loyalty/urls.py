from django.urls import path

from loyalty import views, views_contact

app_name = "loyalty"

urlpatterns = [
    path("settings/loyalty/", views.loyalty_settings, name="settings"),
    path("settings/loyalty/rewards/", views.reward_new, name="reward-new"),
    path("settings/loyalty/tiers/", views.tier_new, name="tier-new"),
    path(
        "settings/loyalty/rewards/<int:reward_id>/codes/",
        views.reward_codes,
        name="reward-codes",
    ),
    path(
        "contacts/<int:contact_id>/loyalty-panel/",
        views_contact.contact_loyalty_panel,
        name="contact-loyalty-panel",
    ),
    path(
        "settings/loyalty/rewards/<int:reward_id>/switch/",
        views.reward_switch,
        name="reward-switch",
    ),
]
