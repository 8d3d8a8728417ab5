"""Child runs say when their parent node took their result, so a child that failed before
its parent parked is waited on again after a takeover instead of started a second time."""

from django.db import migrations, models
from django.db.models import F
from django.db.models.functions import Coalesce


def resumed_before(apps, schema_editor):
    """A finished child whose parent node instance is neither running nor waiting was taken."""
    Run = apps.get_model("runs", "WorkflowRun")
    Node = apps.get_model("runs", "NodeExecution")
    children = Run.objects.filter(
        parent_run__isnull=False, status__in=("completed", "partial", "failed", "cancelled")
    )
    for child in children.only("pk", "parent_run_id", "parent_node_id", "parent_iteration").iterator():
        open_node = Node.objects.filter(
            run_id=child.parent_run_id,
            node_id=child.parent_node_id,
            iteration=child.parent_iteration,
            status__in=("running", "waiting"),
        ).exists()
        if not open_node:
            Run.objects.filter(pk=child.pk).update(
                parent_resumed_at=Coalesce(F("completed_at"), F("created_at"))
            )


class Migration(migrations.Migration):
    dependencies = [
        ("runs", "0016_callback_consumed_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="workflowrun",
            name="parent_resumed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(resumed_before, migrations.RunPython.noop),
    ]
