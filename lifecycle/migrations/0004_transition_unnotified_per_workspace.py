"""Undispatched moves indexed per workspace: dispatch claims one workspace's moves at a
time (issue 12; DESIGN.md: queue claims scoped to one workspace)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("lifecycle", "0003_stage_restrict"),
        ("workspaces", "0002_workspace_purchase_event_names"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="stagetransition", name="transition_unnotified"),
        migrations.AddIndex(
            model_name="stagetransition",
            index=models.Index(
                condition=models.Q(("notified_at__isnull", True)),
                fields=["workspace", "id"],
                name="transition_unnotified",
            ),
        ),
    ]
