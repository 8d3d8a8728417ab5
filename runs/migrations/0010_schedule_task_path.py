"""Schedule rows armed before `fire_schedule` moved to the runs app name its old path."""

from django.db import migrations

OLD = "workflows.schedules.fire_schedule"
NEW = "runs.tasks.fire_schedule"


def rename(apps, schema_editor, old=OLD, new=NEW):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(func=old).update(func=new)


def rename_back(apps, schema_editor):
    rename(apps, schema_editor, old=NEW, new=OLD)


class Migration(migrations.Migration):
    dependencies = [
        ("runs", "0009_orphan_requeues"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(rename, rename_back)]
