"""A django-q2 schedule that sweeps jobs every minute: lost ones re-queued or failed, and queued
ones the broker dropped handed to it again (colorize.services.recovery)."""

from django.db import migrations

FUNC = "colorize.tasks.sweep_jobs"
NAME = "coloria: recover jobs of dead workers and jobs the broker lost"


def add_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    if not Schedule.objects.filter(func=FUNC).exists():
        Schedule.objects.create(
            name=NAME, func=FUNC, schedule_type="I", minutes=1, repeats=-1
        )  # "I": every `minutes`


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=FUNC).delete()


class Migration(migrations.Migration):
    dependencies = [("colorize", "0008_job_liveness")]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
