# The expiry, grace and code work and the referral programme were built side by side
# on 0003; this joins the two lines (no schema change of its own).
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0004_referrals"),
        ("loyalty", "0005_core_expiry_from"),
    ]

    operations: list[migrations.operations.base.Operation] = []
