from django.apps import AppConfig


class WorkspacesConfig(AppConfig):
    name = "workspaces"
    verbose_name = "Workspaces and access"

    def ready(self) -> None:
        # django-axes announces a lockout only through its signal.
        from axes.signals import user_locked_out

        from workspaces.login_throttle import on_user_locked_out

        user_locked_out.connect(on_user_locked_out, dispatch_uid="workspaces.login_locked_out")
