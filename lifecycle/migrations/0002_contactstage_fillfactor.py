from django.db import migrations


class Migration(migrations.Migration):
    """Leave room in each page so that moving a contact to another stage can rewrite
    its row in place (a HOT update) instead of appending a new version elsewhere."""

    dependencies = [("lifecycle", "0001_initial")]
    operations = [
        migrations.RunSQL(
            "ALTER TABLE lifecycle_contactstage SET (fillfactor = 70)",
            "ALTER TABLE lifecycle_contactstage RESET (fillfactor)",
        ),
    ]
