"""Every tenant table's primary key becomes (id, workspace_id) and every foreign key
between tenant tables (workspace_id) composite, after each app's migration that left
Django's single-column constraints out (config/tenant_keys.py; issue 20). Here, in the
last app, because it spans them all. Not atomic: primary keys' indexes are built
CONCURRENTLY and foreign keys validated while writes go on."""

from django.db import migrations

from config.tenant_keys import TenantKeys


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("workspaces", "0006_wsid_invitation_token"),
        ("contacts", "0019_tenant_foreign_keys"),
        ("lifecycle", "0010_tenant_foreign_keys"),
        ("messaging", "0008_tenant_foreign_keys"),
        ("catalog", "0009_tenant_foreign_keys"),
        ("surveys", "0004_tenant_foreign_keys"),
        ("loyalty", "0011_tenant_foreign_keys"),
        ("campaigns", "0018_tenant_foreign_keys"),
        ("analytics", "0022_tenant_foreign_keys"),
    ]

    operations = [TenantKeys()]
