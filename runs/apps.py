from django.apps import AppConfig
from django.db.models.signals import post_delete


def forget_node_day_stats(sender, instance, **kwargs):
    """A deleted workflow's per-day node totals go with it (its runs went first, in the same
    transaction: their node rows' triggers have already written what they subtract)."""
    from .models import NodeDayStat

    NodeDayStat.objects.filter(workflow_id=instance.pk).delete()


class RunsConfig(AppConfig):
    name = "runs"
    verbose_name = "Runs"

    def ready(self):
        from connectors.contact_events import on_contact_change
        from providers.services import use_callback_factory

        from .callbacks import callback_url, create_callback
        from .intake.contact import start_contact_runs

        on_contact_change(start_contact_runs)  # trigger.contact: runs on contact saves
        post_delete.connect(
            forget_node_day_stats, sender="workflows.Workflow", dispatch_uid="runs.forget_node_day_stats"
        )
        use_callback_factory(create_callback, callback_url)  # provider nodes and API executions
