"""The ledger keeps no foreign-key constraints of its own (models/ledger.py says why):
every entry is appended under its balance row's lock, and the balance row's constraints
hold the contact and workspace. Its workspace-only index goes too (every index that
matters leads with the workspace)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('contacts', '0014_segment_members'),
        ('loyalty', '0008_ledger_index_lingest'),
        ('workspaces', '0005_membership_date_locale'),
    ]

    operations = [
        migrations.AlterField(
            model_name='ledgerentry',
            name='contact',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='contacts.contact'),
        ),
        migrations.AlterField(
            model_name='ledgerentry',
            name='workspace',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='workspaces.workspace'),
        ),
    ]
