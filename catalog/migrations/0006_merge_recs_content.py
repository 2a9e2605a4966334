# Stored recommendations and the feed, blocks and triggers were built side by side on
# 0003; this joins the two lines (no schema change of its own).
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0004_recs_stored"),
        ("catalog", "0005_content_shown"),
    ]

    operations: list[migrations.operations.base.Operation] = []
