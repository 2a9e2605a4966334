from django.urls import path

from workspaces import api, api_settings

app_name = "workspaces_api"

urlpatterns = [
    path("workspace/", api.WorkspaceView.as_view(), name="api-workspace"),
    path(
        "settings/general/", api_settings.GeneralSettingsView.as_view(), name="api-settings-general"
    ),
    path("settings/members/", api_settings.MemberListView.as_view(), name="api-settings-members"),
    path(
        "settings/members/<int:member_id>/",
        api_settings.MemberDetailView.as_view(),
        name="api-settings-member",
    ),
    path(
        "settings/invitations/",
        api_settings.InvitationListView.as_view(),
        name="api-settings-invitations",
    ),
    path(
        "settings/invitations/<int:invitation_id>/",
        api_settings.InvitationDetailView.as_view(),
        name="api-settings-invitation",
    ),
]
