from django.urls import path

from loyalty import api

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
    path(
        "loyalty/orders/<str:order_id>/reverse/",
        api.OrderReverseView.as_view(),
        name="api-order-reverse",
    ),
]
