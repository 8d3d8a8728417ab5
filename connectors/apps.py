from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Connectors"

    def ready(self):
        from workflows.triggers.activation import register_reference_check

        from . import contact_events, nodes, references  # noqa: F401  (nodes registers connector.run)
        from .adapters import load_adapters

        load_adapters()  # db.*, mq.*, file.*, soap.call, graphql.query, grpc.call
        from django_q.signals import post_spawn

        from .adapters.pool import close_when_worker_exits

        # Pooled adapter connections close when a worker process stops.
        post_spawn.connect(close_when_worker_exits, dispatch_uid="adapters-pool-close")
        from .adapters import rotation
        from .adapters.pool import pool

        pool.on_first_connection = rotation.listen  # credentials changed in other processes
        from django.db.models.signals import post_delete, post_save

        from .models import Credential

        # A credential saved (rotated) or deleted anywhere (API, admin) retires its pooled connections.
        post_save.connect(rotation.on_credential_saved, sender=Credential, dispatch_uid="adapters-rotation")
        post_delete.connect(
            rotation.on_credential_saved, sender=Credential, dispatch_uid="adapters-rotation-del"
        )
        contact_events.connect()  # contact change events (trigger.contact listens, see runs)
        register_reference_check(references.connector_issues)
        register_reference_check(references.connection_issues)
        register_reference_check(references.credential_issues)
