# Merges the period rollups (reports-speed) with the loyalty rollups (loyalty-reports).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0012_rsp_period_rollups"),
        ("analytics", "0015_lrep_outstanding"),
    ]

    operations = []
