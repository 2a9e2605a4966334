from django.contrib.auth import views as auth_views
from django.urls import path

from workspaces import views

app_name = "workspaces"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("w/<slug:slug>/settings/api-keys/", views.api_keys, name="api-keys"),
    path(
        "w/<slug:slug>/settings/api-keys/<int:key_id>/revoke/",
        views.api_key_revoke,
        name="api-key-revoke",
    ),
]
