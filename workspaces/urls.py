from django.contrib.auth import views as auth_views
from django.urls import path

from workspaces import views, views_settings

app_name = "workspaces"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("invitations/<str:token>/", views_settings.invitation, name="invitation"),
    path("w/<slug:slug>/settings/", views_settings.settings_general, name="settings"),
    path(
        "w/<slug:slug>/settings/my-date-format/",
        views_settings.settings_my_date_format,
        name="my-date-format",
    ),
    path("w/<slug:slug>/settings/members/", views_settings.settings_members, name="members"),
    path(
        "w/<slug:slug>/settings/members/<int:membership_id>/",
        views_settings.member_change,
        name="member-change",
    ),
    path(
        "w/<slug:slug>/settings/invitations/<int:invitation_id>/revoke/",
        views_settings.invitation_revoke,
        name="invitation-revoke",
    ),
    path("w/<slug:slug>/settings/api-keys/", views.api_keys, name="api-keys"),
    path(
        "w/<slug:slug>/settings/api-keys/<int:key_id>/revoke/",
        views.api_key_revoke,
        name="api-key-revoke",
    ),
]
