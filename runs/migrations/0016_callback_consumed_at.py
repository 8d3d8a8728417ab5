"""Callback tokens say when their payload was consumed (the node's resume stored), so a
callback that arrived before its node parked is still delivered after a takeover."""

from django.db import migrations, models
from django.db.models import F


def consumed_before(apps, schema_editor):
    """A used token whose node instance is neither running nor waiting was consumed."""
    Token = apps.get_model("runs", "CorrelationToken")
    Node = apps.get_model("runs", "NodeExecution")
    for token in Token.objects.filter(used_at__isnull=False).iterator():
        open_node = Node.objects.filter(
            run_id=token.run_id,
            node_id=token.node_id,
            iteration=token.iteration,
            status__in=("running", "waiting"),
        ).exists()
        if not open_node:
            Token.objects.filter(pk=token.pk).update(consumed_at=F("used_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("runs", "0015_node_day_stats_per_statement"),
    ]

    operations = [
        migrations.AddField(
            model_name="correlationtoken",
            name="consumed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(consumed_before, migrations.RunPython.noop),
    ]
