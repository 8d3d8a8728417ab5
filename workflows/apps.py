from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = "Workflows"

    def ready(self):
        from .engine.registry import load_builtin_nodes

        load_builtin_nodes()
