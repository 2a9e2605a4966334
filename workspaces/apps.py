from django.apps import AppConfig


class WorkspacesConfig(AppConfig):
    name = "workspaces"
    verbose_name = "Workspaces and access"

    def ready(self) -> None:
        # django-axes announces a lockout only through its signal; both modules import
        # models, so they are imported once the app registry is ready.
        from axes.signals import user_locked_out  # noqa: PLC0415

        from workspaces.login_throttle import on_user_locked_out  # noqa: PLC0415

        user_locked_out.connect(on_user_locked_out, dispatch_uid="workspaces.login_locked_out")
