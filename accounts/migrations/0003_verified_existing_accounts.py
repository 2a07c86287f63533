"""Accounts made before email verification existed keep the account quota they had."""

from django.db import migrations


def grant_to_existing_accounts(apps, schema_editor):
    # Permissions are normally created after all migrations; this one is needed now (the same
    # row Django would make: post_migrate then finds it in place).
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    User = apps.get_model("auth", "User")
    usage, _ = ContentType.objects.get_or_create(app_label="colorize", model="usage")
    permission, _ = Permission.objects.get_or_create(
        content_type=usage,
        codename="full_daily_quota",
        defaults={"name": "Queues the account daily quota (email verified)"},
    )
    permission.user_set.add(*User.objects.all())


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_account_status"),
        ("colorize", "0007_full_daily_quota_permission"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant_to_existing_accounts, migrations.RunPython.noop)]
