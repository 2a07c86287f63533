"""A django-q2 schedule that deletes expired anonymous uploads every minute."""

from django.db import migrations

FUNC = "colorize.tasks.purge_expired"
NAME = "coloria: delete expired anonymous uploads"


def add_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    if not Schedule.objects.filter(func=FUNC).exists():
        Schedule.objects.create(
            name=NAME,
            func=FUNC,
            schedule_type="I",  # Schedule.MINUTES
            minutes=1,
            repeats=-1,
        )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=FUNC).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("colorize", "0002_sharing_moderation_expiry"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
