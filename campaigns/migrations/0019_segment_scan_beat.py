"""The segment triggers' scan of everyone no longer runs every minute: joiners come
from changes and due moments (campaigns/journeys/segment_trigger.py), and the safety
scan rides on the date triggers' beat. Beat adds the entries it is given but never
removes one, so the old entry goes here."""

from django.db import migrations


def drop_entry(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name="campaigns.journeys_scan").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0018_tenant_foreign_keys"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(drop_entry, migrations.RunPython.noop)]
