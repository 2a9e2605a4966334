from django.urls import path

from loyalty import views_referrals

app_name = "loyalty_public"

urlpatterns = [
    path("r/<str:code>/", views_referrals.referral_landing, name="referral-landing"),
]
