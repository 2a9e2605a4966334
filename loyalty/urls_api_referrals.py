from django.urls import path

from loyalty import api_referrals as api

app_name = "loyalty_referrals_api"

urlpatterns = [
    path(
        "loyalty/referral-settings/",
        api.ReferralSettingsView.as_view(),
        name="api-referral-settings",
    ),
    path("loyalty/referrals/", api.ReferralListView.as_view(), name="api-referrals"),
    path(
        "loyalty/referrals/<int:referral_id>/",
        api.ReferralDetailView.as_view(),
        name="api-referral",
    ),
    path(
        "loyalty/referrals/<int:referral_id>/approve/",
        api.ReferralApproveView.as_view(),
        name="api-referral-approve",
    ),
    path(
        "loyalty/referrals/<int:referral_id>/reject/",
        api.ReferralRejectView.as_view(),
        name="api-referral-reject",
    ),
    path(
        "contacts/<int:contact_id>/referral/",
        api.ContactReferralView.as_view(),
        name="api-contact-referral",
    ),
]
