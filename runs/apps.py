from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "runs"
    verbose_name = "Runs"

    def ready(self):
        from connectors.contact_events import on_contact_change

        from .intake.contact import start_contact_runs

        on_contact_change(start_contact_runs)  # trigger.contact: runs on contact saves
