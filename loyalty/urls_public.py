from django.urls import path

from loyalty import views_member, views_referrals

app_name = "loyalty_public"

urlpatterns = [
    path("m/l/<str:token>/", views_member.member_page, name="member"),
    path("m/l/<str:token>/redeem/", views_member.member_redeem, name="member-redeem"),
    # The workspace first: the code is then looked up in one workspace (one shard on
    # Citus). Links shared before it carried the workspace keep working.
    path(
        "r/<int:workspace_id>/<str:code>/",
        views_referrals.referral_landing,
        name="referral-landing",
    ),
    path("r/<str:code>/", views_referrals.referral_landing, name="referral-landing-old"),
]
