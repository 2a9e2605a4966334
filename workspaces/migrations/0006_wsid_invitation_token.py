"""An invitation's token hash is unique with its workspace (issue 20), the hash first:
an invitation link names no workspace and is looked up by the hash alone. Built
CONCURRENTLY before the old constraint goes (config/online_migrations.py)."""

from django.db import migrations, models

from config.online_migrations import AddUniqueConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("workspaces", "0005_membership_date_locale")]

    operations = [
        AddUniqueConcurrently(
            model_name="invitation",
            constraint=models.UniqueConstraint(
                fields=("token_hash", "workspace"), name="invitation_token_unique"
            ),
        ),
        migrations.AlterField(
            model_name="invitation",
            name="token_hash",
            field=models.CharField(max_length=64),
        ),
    ]
