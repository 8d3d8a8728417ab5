from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "runs"
    verbose_name = "Runs"

    def ready(self):
        from connectors.contact_events import on_contact_change
        from providers.services import use_callback_factory

        from .callbacks import callback_url, create_callback
        from .intake.contact import start_contact_runs

        on_contact_change(start_contact_runs)  # trigger.contact: runs on contact saves
        use_callback_factory(create_callback, callback_url)  # provider nodes and API executions
