"""Make (API v2, https://developers.make.com/api-documentation): the connection's base URL
is the zone base `https://{zone}.make.com/api/v2`, auth `Authorization: Token <token>`,
scenarios listed with `pg[offset]`/`pg[limit]` (and `teamId`), previews from
`/scenarios/{id}/blueprint` (modules in `flow`, routers with `routes`), inputs/outputs
from `/scenarios/{id}/interface`, runs through `POST /scenarios/{id}/run`
`{data, responsive, callbackUrl}` and polled at `/scenarios/{id}/executions/{executionId}`.
Custom webhooks (`GET /hooks`, https://developers.make.com/api-documentation/api-reference/hooks)
start a scenario instead (`options.hook`: the hook's id or URL); a hook with API keys attached
wants one in `x-make-apikey` (the credential's `hook_api_key`)."""

from __future__ import annotations

from typing import Any

from workflows.engine.errors import ErrorCategory, NodeError

from .base import (
    ACCEPTED,
    FAILED,
    REF_HEADER,
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
    reword,
)
from .client import ProviderClient

# `responsive` run answers and scenario logs: 1 success, 2 warning, 3 error.
RUN_STATUS = {1: SUCCEEDED, 2: SUCCEEDED, 3: FAILED}
EXECUTION_STATUS = {"SUCCESS": SUCCEEDED, "WARNING": SUCCEEDED, "ERROR": FAILED, "RUNNING": RUNNING}
ROUTER = "builtin:BasicRouter"
SPACING = 260
HOOK_PAGE, MAX_HOOKS = 100, 2000


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
        hook = request.options.get("hook") or request.options.get("hook_url")
        if hook not in (None, ""):
            return self._execute_hook(request, str(hook))
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
                headers={REF_HEADER: request.reference} if request.reference else None,
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

    def _execute_hook(self, request: ExecuteRequest, hook: str) -> Execution:
        """POST to a custom webhook (`options.hook`: its id or URL, from `GET /hooks`). The
        connection's `hook_api_key` goes along as `x-make-apikey` only to a URL that `GET
        /hooks` lists for the team, so a node cannot send the key anywhere else."""
        url, listed = self._hook_url(hook)
        headers = {REF_HEADER: request.reference} if request.reference else {}
        key = self.connection.secrets.get("hook_api_key")
        if key and listed:
            headers["x-make-apikey"] = key
        data = request.data if isinstance(request.data, dict) else {"data": request.data}
        if request.callback_url:
            data = {**data, "callback_url": request.callback_url}
        try:
            answer = self.client.post(url, json_body=data, headers=headers, timeout_s=request.timeout_s)
        except NodeError as exc:
            reword(
                exc,
                {
                    (401, 403): "the Make webhook refused the call: it has API keys attached; put one of "
                    "them in the connection credential as `hook_api_key` (sent as x-make-apikey)",
                    (404, 410): "Make does not know this webhook URL: check it under Webhooks in Make",
                },
            )
            raise
        return Execution(ACCEPTED, None, answer.body, None, "accepted")

    def _hook_url(self, hook: str) -> tuple[str, bool]:
        """(url, listed): a hook id resolves through `GET /hooks`; a URL is used as given."""
        is_url = hook.startswith(("http://", "https://"))
        if not self.connection.secrets.get("token"):
            if is_url:
                return hook, False
            self._need_token()
        hooks = self.hooks()
        for found in hooks:
            if str(found.get("id")) == hook or (is_url and found.get("url") == hook):
                if not found.get("url"):
                    break
                if found.get("enabled") is False:
                    raise NodeError(
                        ErrorCategory.INTEGRATION_ERROR,
                        f"the Make webhook {found.get('name')!r} is disabled: "
                        "enable it under Webhooks in Make",
                        {"hook": hook},
                        retryable=False,
                    )
                return str(found["url"]), True
        if is_url:
            return hook, False
        raise NodeError(
            ErrorCategory.VALIDATION_ERROR,
            f"Make has no custom webhook {hook!r} in this team (GET /hooks lists {len(hooks)})",
            {"hook": hook},
            retryable=False,
        )

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
        """The team's custom webhooks (`GET /hooks?typeName=gateway-webhook`, paged with
        `pg[offset]`/`pg[limit]`): id, name, url, enabled, scenario_id, queue_count."""
        self._need_token()
        found: list[dict[str, Any]] = []
        offset, limit = 0, HOOK_PAGE
        while True:
            params = {**self._team(), "typeName": "gateway-webhook", "pg[offset]": offset, "pg[limit]": limit}
            page = (self.client.get("hooks", params=params).body or {}).get("hooks") or []
            found.extend(
                {
                    "id": h.get("id"),
                    "name": h.get("name"),
                    "url": h.get("url"),
                    "enabled": h.get("enabled"),
                    "scenario_id": h.get("scenarioId"),
                    "queue_count": h.get("queueCount"),
                }
                for h in page
                if isinstance(h, dict)
            )
            if len(page) < limit or len(found) >= MAX_HOOKS:
                return found
            offset += limit


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
