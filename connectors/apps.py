from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Connectors"

    def ready(self):
        from . import contact_events, nodes  # noqa: F401  (nodes registers connector.run)

        contact_events.connect()  # trigger.contact: runs on contact saves
