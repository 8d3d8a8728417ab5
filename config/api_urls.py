"""/api/v1/: every path is served with and without a trailing slash (SPEC §6)."""

from django.urls import re_path
from rest_framework.routers import DefaultRouter

from config.api_params import UUID_PATTERN
from connectors import api as connectors_api
from connectors import contacts_api
from providers import api as providers_api
from runs import api as runs_api
from runs import debug_api
from workflows.api import NodeTypesView, TemplatePreviewView, WorkflowViewSet, WorkspaceViewSet

UUID = UUID_PATTERN
NODE = "(?P<node_id>[a-z][a-z0-9_]{0,62})"


class OptionalSlashRouter(DefaultRouter):
    """Routes match with and without the trailing slash; no `.json` format suffixes."""

    include_format_suffixes = False

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("workflows", WorkflowViewSet, basename="workflow")
router.register("workspaces", WorkspaceViewSet, basename="workspace")
router.register("connectors", connectors_api.ConnectorViewSet, basename="connector")
router.register("credentials", connectors_api.CredentialViewSet, basename="credential")
router.register("contacts", contacts_api.ContactViewSet, basename="contact")
router.register("providers/connections", providers_api.ConnectionViewSet, basename="provider-connection")

urlpatterns = [
    re_path(r"^node-types/?$", NodeTypesView.as_view(), name="node-types"),
    re_path(r"^templates/preview/?$", TemplatePreviewView.as_view(), name="template-preview"),
    re_path(
        rf"^workflows/(?P<pk>{UUID})/execute/?$", runs_api.ExecuteView.as_view(), name="workflow-execute"
    ),
    re_path(rf"^workflows/(?P<pk>{UUID})/runs/?$", runs_api.WorkflowRunsView.as_view(), name="workflow-runs"),
    re_path(
        r"^integrations/health/?$", connectors_api.IntegrationHealthView.as_view(), name="integrations-health"
    ),
    re_path(r"^runs/?$", debug_api.ExecutionsView.as_view(), name="run-list"),
    re_path(r"^runs/bulk-retry/?$", debug_api.BulkRetryView.as_view(), name="runs-bulk-retry"),
    re_path(r"^runs/bulk-cancel/?$", debug_api.BulkCancelView.as_view(), name="runs-bulk-cancel"),
    re_path(
        rf"^workflows/(?P<pk>{UUID})/node-stats/?$", debug_api.NodeStatsView.as_view(), name="node-stats"
    ),
    re_path(rf"^workflows/(?P<pk>{UUID})/pins/?$", debug_api.PinsView.as_view(), name="workflow-pins"),
    re_path(rf"^workflows/(?P<pk>{UUID})/pins/{NODE}/?$", debug_api.PinView.as_view(), name="workflow-pin"),
    re_path(
        rf"^workflows/(?P<pk>{UUID})/nodes/{NODE}/executions/?$",
        debug_api.NodeExecutionsView.as_view(),
        name="node-executions",
    ),
    re_path(
        rf"^workflows/(?P<pk>{UUID})/nodes/{NODE}/test/?$", debug_api.NodeTestView.as_view(), name="node-test"
    ),
    re_path(
        rf"^workflows/(?P<pk>{UUID})/nodes/{NODE}/run-from/?$",
        debug_api.RunFromNodeView.as_view(),
        name="node-run-from",
    ),
    re_path(rf"^runs/(?P<pk>{UUID})/?$", runs_api.RunDetailView.as_view(), name="run-detail"),
    re_path(rf"^runs/(?P<pk>{UUID})/logs/?$", runs_api.RunLogsView.as_view(), name="run-logs"),
    re_path(rf"^runs/(?P<pk>{UUID})/retry/?$", runs_api.RunRetryView.as_view(), name="run-retry"),
    re_path(rf"^runs/(?P<pk>{UUID})/cancel/?$", runs_api.RunCancelView.as_view(), name="run-cancel"),
    re_path(r"^callbacks/(?P<token>[A-Za-z0-9_-]{16,128})/?$", runs_api.callback_view, name="callback"),
    re_path(
        rf"^connectors/executions/(?P<pk>{UUID})/?$",
        connectors_api.ExecutionDetailView.as_view(),
        name="connector-execution",
    ),
    re_path(r"^providers/?$", providers_api.ProvidersCatalogView.as_view(), name="providers"),
    re_path(
        rf"^providers/connections/(?P<pk>{UUID})/workflows/(?P<remote_id>[^/]+)/execute/?$",
        providers_api.RemoteExecuteView.as_view(),
        name="provider-remote-execute",
    ),
    re_path(
        rf"^providers/connections/(?P<pk>{UUID})/workflows/(?P<remote_id>[^/]+)/?$",
        providers_api.RemoteWorkflowView.as_view(),
        name="provider-remote-workflow",
    ),
    re_path(
        rf"^providers/connections/(?P<pk>{UUID})/hooks/?$",
        providers_api.HooksView.as_view(),
        name="provider-hooks",
    ),
    re_path(
        rf"^providers/connections/(?P<pk>{UUID})/hooks/(?P<hook_id>[^/]+)/execute/?$",
        providers_api.HookExecuteView.as_view(),
        name="provider-hook-execute",
    ),
    re_path(
        rf"^providers/connections/(?P<pk>{UUID})/executions/(?P<execution>{UUID})/?$",
        providers_api.ExecutionDetailView.as_view(),
        name="provider-execution",
    ),
    re_path(
        rf"^providers/connections/(?P<pk>{UUID})/remote-executions/?$",
        providers_api.RemoteExecutionsView.as_view(),
        name="provider-remote-executions",
    ),
    *router.urls,
]
