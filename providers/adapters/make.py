"""Make (API v2, https://developers.make.com/api-documentation): the connection's base URL
is the zone base `https://{zone}.make.com/api/v2`, auth `Authorization: Token <token>`,
scenarios listed with `pg[offset]`/`pg[limit]` (and `teamId`), previews from
`/scenarios/{id}/blueprint` (modules in `flow`, routers with `routes`), inputs/outputs
from `/scenarios/{id}/interface`, runs through `POST /scenarios/{id}/run`
`{data, responsive, callbackUrl}` and polled at `/scenarios/{id}/executions/{executionId}`.
Custom webhooks (`GET /hooks`) can start a scenario instead (`options.hook_url`)."""

from __future__ import annotations

from typing import Any

from workflows.engine.errors import ErrorCategory, NodeError

from .base import (
    ACCEPTED,
    FAILED,
    RUNNING,
    SUCCEEDED,
    ConnectionInfo,
    ExecuteRequest,
    Execution,
    Preview,
    ProviderAdapter,
    RemotePage,
    RemoteWorkflow,
    adapter,
    need,
)
from .client import ProviderClient

# `responsive` run answers and scenario logs: 1 success, 2 warning, 3 error.
RUN_STATUS = {1: SUCCEEDED, 2: SUCCEEDED, 3: FAILED}
EXECUTION_STATUS = {"SUCCESS": SUCCEEDED, "WARNING": SUCCEEDED, "ERROR": FAILED, "RUNNING": RUNNING}
ROUTER = "builtin:BasicRouter"
SPACING = 260


@adapter
class MakeAdapter(ProviderAdapter):
    name = "make"
    label = "Make"
    credential_fields = ("token",)
    default_wait = "poll"
    base_url_help = "the zone base, e.g. https://eu1.make.com/api/v2"

    def __init__(self, connection: ConnectionInfo, client: ProviderClient):
        super().__init__(connection, client)
        token = connection.secrets.get("token", "")
        if token:
            client.headers["Authorization"] = f"Token {token}"

    def _need_token(self) -> None:
        if not self.connection.secrets.get("token"):
            raise NodeError(
                ErrorCategory.AUTHENTICATION_ERROR,
                "this Make connection has no API token: set `token` in its credential "
                "(Make: Profile > API access > Add token)",
                retryable=False,
            )

    def _team(self) -> dict[str, Any]:
        team = self.connection.settings.get("team_id")
        return {"teamId": team} if team not in (None, "") else {}

    def test_connection(self) -> None:
        self._need_token()
        self.client.get("users/me")

    def list_workflows(self, *, cursor: str | None = None, limit: int = 100) -> RemotePage:
        self._need_token()
        offset = int(cursor) if cursor and str(cursor).isdigit() else 0
        limit = max(1, min(limit, 10_000))
        params = {**self._team(), "pg[offset]": offset, "pg[limit]": limit}
        body = self.client.get("scenarios", params=params).body or {}
        scenarios = body.get("scenarios") or []
        return RemotePage(
            [
                RemoteWorkflow(
                    remote_id=str(s.get("id")),
                    name=str(s.get("name", "")),
                    active=bool(s.get("isActive")),
                    tags=tuple(str(t) for t in s.get("tags") or []),
                    updated_at=s.get("lastEdit"),
                )
                for s in scenarios
            ],
            str(offset + limit) if len(scenarios) >= limit else None,
        )

    def _scenario(self, remote_id: str) -> dict[str, Any]:
        self._need_token()
        need(remote_id, "config.workflow must name the Make scenario (its id)")
        try:
            return (self.client.get(f"scenarios/{remote_id}").body or {}).get("scenario") or {}
        except NodeError as exc:
            if exc.details.get("status") == 404:
                exc.message = f"Make has no scenario {remote_id!r} in this zone"
                exc.args = (exc.message,)
                exc.retryable = False
            raise

    def get_preview(self, remote_id: str) -> Preview:
        scenario = self._scenario(remote_id)
        body = self.client.get(f"scenarios/{remote_id}/blueprint").body or {}
        blueprint = (body.get("response") or {}).get("blueprint") or {}
        preview = Preview(remote_id=str(remote_id), name=scenario.get("name") or blueprint.get("name", ""))
        _add_flow(preview, blueprint.get("flow") or [], None, "main", 0, 0)
        described = self.describe(remote_id)
        preview.inputs, preview.outputs = described["inputs"], described["outputs"]
        return preview

    def describe(self, remote_id: str) -> dict[str, list[dict[str, Any]]]:
        self._need_token()
        body = self.client.get(f"scenarios/{remote_id}/interface").body or {}
        interface = body.get("interface") or {}
        return {"inputs": list(interface.get("input") or []), "outputs": list(interface.get("output") or [])}

    def execute(self, request: ExecuteRequest) -> Execution:
        hook_url = request.options.get("hook_url")
        if hook_url:
            return self._execute_hook(request, str(hook_url))
        self._need_token()
        need(request.workflow, "config.workflow must name the Make scenario (its id)")
        responsive = bool(request.options.get("responsive"))
        body: dict[str, Any] = {"data": request.data if request.data is not None else {}}
        body["responsive"] = responsive
        if request.callback_url:
            body["callbackUrl"] = request.callback_url
        try:
            answer = self.client.post(
                f"scenarios/{request.workflow}/run",
                json_body=body,
                timeout_s=max(request.timeout_s, 45.0) if responsive else request.timeout_s,
            ).body
        except NodeError as exc:
            _explain_run_error(exc, request.workflow)
            raise
        answer = answer or {}
        execution_id = str(answer.get("executionId") or "") or None
        if responsive and answer.get("status") in RUN_STATUS:
            status = RUN_STATUS[answer["status"]]
            error = None if status == SUCCEEDED else {"message": "the Make scenario failed", "status": 3}
            return Execution(status, execution_id, answer.get("outputs"), error, str(answer["status"]))
        return Execution(RUNNING, execution_id, answer, None, "started")

    def _execute_hook(self, request: ExecuteRequest, url: str) -> Execution:
        headers = {}
        if self.connection.secrets.get("hook_api_key"):
            headers["x-make-apikey"] = self.connection.secrets["hook_api_key"]
        data = request.data if isinstance(request.data, dict) else {"data": request.data}
        if request.callback_url:
            data = {**data, "callback_url": request.callback_url}
        answer = self.client.post(url, json_body=data, headers=headers, timeout_s=request.timeout_s)
        return Execution(ACCEPTED, None, answer.body, None, "accepted")

    def poll(self, *, workflow: str, execution_id: str) -> Execution:
        self._need_token()
        body = self.client.get(f"scenarios/{workflow}/executions/{execution_id}").body or {}
        remote = str(body.get("status") or "RUNNING").upper()
        status = EXECUTION_STATUS.get(remote, RUNNING)
        if status == FAILED:
            error = body.get("error") or {}
            return Execution(
                FAILED,
                execution_id,
                body.get("outputs"),
                {"message": error.get("message") or "the Make scenario failed", "name": error.get("name")},
                remote,
            )
        return Execution(
            status, execution_id, body.get("outputs") if status == SUCCEEDED else None, None, remote
        )

    def recent_executions(self, *, workflow: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        if not workflow:
            return []
        self._need_token()
        body = self.client.get(f"scenarios/{workflow}/logs", params={"pg[limit]": limit}).body or {}
        return [
            {
                "execution_id": str(log.get("id")),
                "remote_id": str(workflow),
                "status": RUN_STATUS.get(log.get("status"), RUNNING),
                "remote_status": log.get("status"),
                "started_at": log.get("timestamp"),
                "finished_at": None,
            }
            for log in body.get("scenarioLogs") or []
        ]

    def hooks(self) -> list[dict[str, Any]]:
        """The team's custom webhooks (`GET /hooks`): id, name, url."""
        self._need_token()
        body = self.client.get("hooks", params=self._team()).body or {}
        return [
            {"id": h.get("id"), "name": h.get("name"), "url": h.get("url")} for h in body.get("hooks") or []
        ]


def _explain_run_error(exc: NodeError, scenario: str) -> None:
    status = exc.details.get("status")
    if status == 404:
        exc.message = f"Make has no scenario {scenario!r} in this zone"
    elif status == 400:
        body = exc.details.get("body")
        said = body.get("message") or body.get("detail") if isinstance(body, dict) else body
        exc.message = (
            f"Make refused to run scenario {scenario!r} ({said}): it must be active and scheduled "
            "'On demand' in Make, with every required scenario input given in `data`"
        )
    else:
        return
    exc.args = (exc.message,)
    exc.retryable = False


def _add_flow(preview: Preview, flow: list, source: str | None, handle: str, x: int, y: int) -> int:
    """Add a blueprint flow (modules in order; a router branches into its routes).
    Returns the number of rows the flow took (for laying out the next route)."""
    rows = 1
    previous, previous_handle = source, handle
    for position, module in enumerate(flow):
        if not isinstance(module, dict):
            continue
        node_id = str(module.get("id", f"{x}-{position}"))
        designer = (module.get("metadata") or {}).get("designer") or {}
        at = [designer.get("x", x + position * SPACING), designer.get("y", y)]
        preview.nodes.append(
            {
                "id": node_id,
                "name": module.get("module", ""),
                "type": module.get("module", ""),
                "position": at,
            }
        )
        if previous is not None:
            preview.edges.append({"source": previous, "target": node_id, "source_handle": previous_handle})
        previous, previous_handle = node_id, "main"
        if module.get("module") == ROUTER:
            route_y = y
            for index, route in enumerate(module.get("routes") or []):
                taken = _add_flow(
                    preview,
                    (route or {}).get("flow") or [],
                    node_id,
                    f"route_{index}",
                    x + (position + 1) * SPACING,
                    route_y,
                )
                route_y += taken * 160
                rows += taken
            return rows
    return rows
