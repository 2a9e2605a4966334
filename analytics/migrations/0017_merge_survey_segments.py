# Merges the per-segment survey rollups (surveys-speed) with the period and loyalty rollups.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0012_srv_segment_rollups'),
        ('analytics', '0016_merge_periods_loyalty'),
    ]

    operations = [
    ]
