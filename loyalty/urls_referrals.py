from django.urls import path

from loyalty import views_referrals as views

app_name = "loyalty_referrals"

urlpatterns = [
    path("settings/referrals/", views.referral_settings, name="settings"),
    path("referrals/review/", views.referral_review_list, name="review"),
    path(
        "referrals/<int:referral_id>/<str:decision>/",
        views.referral_decide,
        name="decide",
    ),
    path(
        "contacts/<int:contact_id>/referrals-panel/",
        views.contact_referrals_panel,
        name="contact-referrals-panel",
    ),
]
