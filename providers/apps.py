from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "providers"
    verbose_name = "Providers"

    def ready(self):
        from workflows.engine.store import register_capability

        from . import nodes, services

        nodes.register_all()  # provider.n8n, provider.make, provider.zapier
        register_capability("providers", services.node_call)
