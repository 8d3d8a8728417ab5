"""/api/v1/: every path is served with and without a trailing slash (SPEC §6)."""

from django.urls import re_path
from rest_framework.routers import DefaultRouter

from config.api_params import UUID_PATTERN
from connectors import api as connectors_api
from connectors import contacts_api
from runs import api as runs_api
from workflows.api import NodeTypesView, WorkflowViewSet, WorkspaceViewSet

UUID = UUID_PATTERN


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

urlpatterns = [
    re_path(r"^node-types/?$", NodeTypesView.as_view(), name="node-types"),
    re_path(
        rf"^workflows/(?P<pk>{UUID})/execute/?$", runs_api.ExecuteView.as_view(), name="workflow-execute"
    ),
    re_path(rf"^workflows/(?P<pk>{UUID})/runs/?$", runs_api.WorkflowRunsView.as_view(), name="workflow-runs"),
    re_path(r"^runs/?$", runs_api.RunListView.as_view(), name="run-list"),
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
    *router.urls,
]
