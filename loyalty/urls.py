from django.urls import path

from loyalty import views, views_catalogue, views_contact

app_name = "loyalty"

urlpatterns = [
    path("settings/loyalty/", views.loyalty_settings, name="settings"),
    path("settings/loyalty/rewards/", views_catalogue.reward_new, name="reward-new"),
    path("settings/loyalty/tiers/", views_catalogue.tier_new, name="tier-new"),
    path("settings/loyalty/tiers/<int:tier_id>/", views_catalogue.tier_edit, name="tier-edit"),
    path(
        "settings/loyalty/tiers/<int:tier_id>/delete/",
        views_catalogue.tier_delete,
        name="tier-delete",
    ),
    path(
        "settings/loyalty/rewards/<int:reward_id>/",
        views_catalogue.reward_edit,
        name="reward-edit",
    ),
    path(
        "settings/loyalty/rewards/<int:reward_id>/delete/",
        views_catalogue.reward_delete,
        name="reward-delete",
    ),
    path(
        "settings/loyalty/rewards/<int:reward_id>/codes/",
        views_catalogue.reward_codes,
        name="reward-codes",
    ),
    path(
        "contacts/<int:contact_id>/loyalty-panel/",
        views_contact.contact_loyalty_panel,
        name="contact-loyalty-panel",
    ),
    path(
        "settings/loyalty/rewards/<int:reward_id>/switch/",
        views_catalogue.reward_switch,
        name="reward-switch",
    ),
]
