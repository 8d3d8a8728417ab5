from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Connectors"

    def ready(self):
        from . import contact_events, nodes  # noqa: F401  (nodes registers connector.run)
        from .adapters import load_adapters

        load_adapters()  # db.*, mq.*, file.*, soap.call, graphql.query, grpc.call
        contact_events.connect()  # trigger.contact: runs on contact saves
