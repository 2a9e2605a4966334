from django.urls import path

from loyalty import api, api_tiers

app_name = "loyalty_api"

urlpatterns = [
    path("loyalty/programme/", api.ProgrammeView.as_view(), name="api-programme"),
    path(
        "loyalty/contacts/<int:contact_id>/",
        api.ContactPointsView.as_view(),
        name="api-contact-points",
    ),
    path(
        "loyalty/contacts/<int:contact_id>/entries/",
        api.ContactEntriesView.as_view(),
        name="api-contact-entries",
    ),
    path(
        "loyalty/contacts/<int:contact_id>/adjust/",
        api.ContactAdjustView.as_view(),
        name="api-contact-adjust",
    ),
    path(
        "loyalty/contacts/<int:contact_id>/redeem/",
        api.ContactRedeemView.as_view(),
        name="api-contact-redeem",
    ),
    path("loyalty/rewards/", api.RewardListView.as_view(), name="api-rewards"),
    path("loyalty/rewards/<int:reward_id>/", api.RewardDetailView.as_view(), name="api-reward"),
    path(
        "loyalty/rewards/<int:reward_id>/codes/",
        api.RewardCodesView.as_view(),
        name="api-reward-codes",
    ),
    path("loyalty/tiers/", api_tiers.TierListView.as_view(), name="api-tiers"),
    path("loyalty/tiers/<int:tier_id>/", api_tiers.TierDetailView.as_view(), name="api-tier"),
    path(
        "loyalty/contacts/<int:contact_id>/tier-changes/",
        api_tiers.ContactTierChangesView.as_view(),
        name="api-contact-tier-changes",
    ),
    path(
        "loyalty/orders/<str:order_id>/reverse/",
        api.OrderReverseView.as_view(),
        name="api-order-reverse",
    ),
]
