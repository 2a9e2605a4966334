from django.urls import path

from workspaces import api

app_name = "workspaces_api"

urlpatterns = [
    path("workspace/", api.WorkspaceView.as_view(), name="api-workspace"),
]
