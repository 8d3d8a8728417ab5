"""n8n (checked against a real 2.41.1): public API under `/api/v1` with `X-N8N-API-KEY`,
cursor pagination `{data, nextCursor}` (limit <= 250), workflows run through their
production webhook `/webhook/<path>` (found from the Webhook node; only while the workflow
is active) or resumed through a Wait node's `/webhook-waiting/<executionId>`, executions
polled at `/api/v1/executions/{id}`.

The webhook answer carries no execution id, so every call sends a unique
`X-Switchyard-Ref` header; the Webhook node records request headers in its output, and the
execution is found among the workflow's newest executions by that header.
"""

from __future__ import annotations

from typing import Any

from workflows.engine.errors import ErrorCategory, NodeError

from .base import (
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
)
from .client import ProviderClient

WEBHOOK_TYPE = "n8n-nodes-base.webhook"
IF_TYPE = "n8n-nodes-base.if"
SWITCH_TYPE = "n8n-nodes-base.switch"
MAX_LIMIT = 250
STATUS = {
    "success": SUCCEEDED,
    "error": FAILED,
    "crashed": FAILED,
    "canceled": FAILED,
    "new": RUNNING,
    "running": RUNNING,
    "waiting": RUNNING,
    "unknown": RUNNING,
}
FIND_PAGE_SIZE, FIND_PAGES = 50, 40  # a lookup by reference reads at most 2,000 executions
REF_PREFIX = "ref:"  # an execution id not known yet: find it by our reference


@adapter
class N8nAdapter(ProviderAdapter):
    name = "n8n"
    label = "n8n"
    credential_fields = ("api_key",)
    default_wait = "poll"
    base_url_help = "the n8n instance, e.g. https://n8n.example.com"

    def __init__(self, connection: ConnectionInfo, client: ProviderClient):
        super().__init__(connection, client)
        key = connection.secrets.get("api_key", "")
        if key:
            client.headers["X-N8N-API-KEY"] = key

    def _api(self, path: str) -> str:
        return "api/v1/" + path.lstrip("/")

    def _need_key(self) -> None:
        if not self.connection.secrets.get("api_key"):
            raise NodeError(
                ErrorCategory.AUTHENTICATION_ERROR,
                "this n8n connection has no API key: set `api_key` in its credential "
                "(n8n: Settings > n8n API > Create an API key)",
                retryable=False,
            )

    # -- connection --------------------------------------------------------------------
    def test_connection(self) -> None:
        self._need_key()
        self.client.get(self._api("workflows"), params={"limit": 1})

    def list_workflows(self, *, cursor: str | None = None, limit: int = 100) -> RemotePage:
        self._need_key()
        params: dict[str, Any] = {"limit": max(1, min(limit, MAX_LIMIT))}
        if cursor:
            params["cursor"] = cursor
        body = self.client.get(self._api("workflows"), params=params).body or {}
        return RemotePage(
            [
                RemoteWorkflow(
                    remote_id=str(w.get("id")),
                    name=str(w.get("name", "")),
                    active=bool(w.get("active")),
                    tags=tuple(t.get("name", "") for t in w.get("tags") or [] if isinstance(t, dict)),
                    updated_at=w.get("updatedAt"),
                )
                for w in body.get("data") or []
            ],
            body.get("nextCursor") or None,
        )

    def _workflow(self, remote_id: str) -> dict[str, Any]:
        self._need_key()
        need(remote_id, "config.workflow must name the n8n workflow (its id)")
        try:
            return self.client.get(self._api(f"workflows/{remote_id}")).body or {}
        except NodeError as exc:
            if exc.details.get("status") == 404:
                exc.message = f"n8n has no workflow {remote_id!r} (check the id in its URL)"
                exc.args = (exc.message,)
                exc.retryable = False
            raise

    def get_preview(self, remote_id: str) -> Preview:
        workflow = self._workflow(remote_id)
        preview = Preview(remote_id=str(workflow.get("id", remote_id)), name=workflow.get("name", ""))
        ids = {}
        for node in workflow.get("nodes") or []:
            node_id = str(node.get("id") or node.get("name"))
            ids[node.get("name")] = node_id
            position = node.get("position") or [0, 0]
            preview.nodes.append(
                {
                    "id": node_id,
                    "name": node.get("name", ""),
                    "type": node.get("type", ""),
                    "position": position,
                }
            )
        types = {n.get("name"): n for n in workflow.get("nodes") or []}
        for source_name, outputs in (workflow.get("connections") or {}).items():
            source = types.get(source_name) or {}
            for index, targets in enumerate((outputs or {}).get("main") or []):
                for target in targets or []:
                    if target.get("node") not in ids or source_name not in ids:
                        continue
                    preview.edges.append(
                        {
                            "source": ids[source_name],
                            "target": ids[target["node"]],
                            "source_handle": output_handle(source, index),
                        }
                    )
        described = self._describe(workflow)
        preview.inputs, preview.outputs = described["inputs"], described["outputs"]
        return preview

    def describe(self, remote_id: str) -> dict[str, list[dict[str, Any]]]:
        return self._describe(self._workflow(remote_id))

    def _describe(self, workflow: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        hook = webhook_node(workflow)
        if hook is None:
            return {"inputs": [], "outputs": []}
        params = hook.get("parameters") or {}
        method = str(params.get("httpMethod") or "GET").upper()
        return {
            "inputs": [
                {
                    "name": "body" if method != "GET" else "query",
                    "type": "object",
                    "description": f"{method} /webhook/{params.get('path', '')}",
                }
            ],
            "outputs": [
                {
                    "name": "response",
                    "type": "object",
                    "description": f"webhook responds: {params.get('responseMode') or 'onReceived'}",
                }
            ],
        }

    # -- running -----------------------------------------------------------------------
    def execute(self, request: ExecuteRequest) -> Execution:
        if request.resume_execution:
            return self._resume(request)
        workflow = self._workflow(request.workflow)
        hook = webhook_node(workflow)
        name = workflow.get("name") or request.workflow
        if hook is None:
            raise NodeError(
                ErrorCategory.INTEGRATION_ERROR,
                f"n8n workflow {name!r} has no Webhook node: add a Webhook trigger in n8n "
                "so it can be started from here",
                {"workflow": request.workflow},
                retryable=False,
            )
        if not workflow.get("active"):
            raise NodeError(
                ErrorCategory.INTEGRATION_ERROR,
                f"n8n workflow {name!r} is not active: activate (publish) it in n8n; its production "
                "webhook only answers while it is active",
                {"workflow": request.workflow},
                retryable=False,
            )
        params = hook.get("parameters") or {}
        path = str(params.get("path") or hook.get("webhookId") or "").strip("/")
        method = str(params.get("httpMethod") or "GET").upper()
        headers = {REF_HEADER: request.reference}
        if request.callback_url:
            headers["X-Switchyard-Callback-Url"] = request.callback_url
        body = _with_callback(request.data, request.callback_url)
        kwargs: dict[str, Any] = {"headers": headers, "timeout_s": request.timeout_s}
        if method in ("GET", "HEAD", "DELETE"):
            kwargs["params"] = body if isinstance(body, dict) else {"data": body}
        else:
            kwargs["json_body"] = body
        try:
            answer = self.client.request(method, f"webhook/{path}", **kwargs)
        except NodeError as exc:
            if exc.details.get("status") == 404:
                exc.message = (
                    f"n8n has no production webhook {method} /webhook/{path} for workflow {name!r}: "
                    "activate the workflow in n8n and check the Webhook node's path and method"
                )
                exc.args = (exc.message,)
                exc.retryable = False
            elif exc.details.get("status") == 500:
                return Execution(
                    FAILED,
                    self._find(request.workflow, request.reference, tries=3),
                    data=exc.details.get("body"),
                    error={"message": "the n8n workflow failed", "body": exc.details.get("body")},
                    remote_status="error",
                )
            raise
        mode = params.get("responseMode") or "onReceived"
        if mode == "onReceived":
            return Execution(
                RUNNING,
                REF_PREFIX + f"{request.workflow}:{request.reference}",
                data=answer.body,
                remote_status="started",
            )
        # Responded on the last node (or a Respond node): the answer is the result.
        found = self._find(request.workflow, request.reference, tries=3)
        return Execution(SUCCEEDED if mode == "lastNode" else RUNNING, found, answer.body, None, "responded")

    def _resume(self, request: ExecuteRequest) -> Execution:
        execution_id = str(request.resume_execution)
        if execution_id.startswith(REF_PREFIX):  # started by wait 'none': find its real id
            workflow_id, _, reference = execution_id[len(REF_PREFIX) :].partition(":")
            found = self._find(workflow_id, reference, tries=5)
            if found is None:
                raise NodeError(
                    ErrorCategory.INTEGRATION_ERROR,
                    f"n8n has not recorded the execution to resume yet ({execution_id}); "
                    "let the first node wait with poll until the execution is 'waiting'",
                    retryable=True,
                )
            execution_id = found
        # n8n 2.x resume URLs are signed with the execution's resume token (what
        # `$execution.resumeUrl` carries); the API shows it while the execution waits.
        self._need_key()
        waiting = self.client.get(
            self._api(f"executions/{execution_id}"), params={"includeData": "true"}
        ).body
        waiting = waiting or {}
        token = (waiting.get("data") or {}).get("resumeToken")
        if waiting.get("status") != "waiting" or not token:
            raise NodeError(
                ErrorCategory.INTEGRATION_ERROR,
                f"n8n execution {execution_id} is {waiting.get('status') or 'unknown'}, not waiting: "
                "resuming needs a Wait node set to resume 'On Webhook Call' that the execution has reached",
                {"execution_id": execution_id, "status": waiting.get("status")},
                retryable=False,
            )
        self.client.secrets.append(token)  # kept out of logs and errors
        try:
            answer = self.client.post(
                f"webhook-waiting/{execution_id}?signature={token}",
                json_body=_with_callback(request.data, request.callback_url),
                headers={REF_HEADER: request.reference},
                timeout_s=request.timeout_s,
            )
        except NodeError as exc:
            if exc.details.get("status") in (404, 409):
                exc.message = (
                    f"n8n execution {execution_id} is not waiting for a webhook call: it needs a Wait node "
                    "set to resume 'On Webhook Call' and must not have resumed already"
                )
                exc.args = (exc.message,)
                exc.retryable = False
            raise
        return Execution(RUNNING, execution_id, answer.body, None, "resumed")

    def find_execution(self, *, workflow: str, reference: str) -> str | None:
        self._need_key()
        return self._find(workflow, reference, tries=3)

    def _find(self, workflow: str, reference: str, *, tries: int = 1) -> str | None:
        """The id of the execution our call started (None when not recorded yet): the
        workflow's executions, newest first, followed through `nextCursor` until found
        (at most FIND_PAGES pages of FIND_PAGE_SIZE)."""
        import time

        for attempt in range(tries):
            cursor = None
            for _page in range(FIND_PAGES):
                params: dict[str, Any] = {
                    "workflowId": workflow,
                    "limit": FIND_PAGE_SIZE,
                    "includeData": "true",
                }
                if cursor:
                    params["cursor"] = cursor
                body = self.client.get(self._api("executions"), params=params).body or {}
                for execution in body.get("data") or []:
                    if _reference_of(execution) == reference:
                        return str(execution.get("id"))
                cursor = body.get("nextCursor")
                if not cursor:
                    break
            if attempt + 1 < tries:
                time.sleep(0.1 * (attempt + 1))
        return None

    def poll(self, *, workflow: str, execution_id: str) -> Execution:
        self._need_key()
        if execution_id.startswith(REF_PREFIX):
            workflow_id, _, reference = execution_id[len(REF_PREFIX) :].partition(":")
            found = self._find(workflow_id or workflow, reference)
            if found is None:
                return Execution(RUNNING, execution_id, remote_status="not recorded yet")
            execution_id = found
        body = self.client.get(self._api(f"executions/{execution_id}"), params={"includeData": "true"}).body
        body = body or {}
        remote = str(body.get("status") or ("success" if body.get("finished") else "running"))
        status = STATUS.get(remote, RUNNING)
        result = (body.get("data") or {}).get("resultData") or {}
        if status == FAILED:
            error = result.get("error") or {}
            return Execution(
                FAILED,
                execution_id,
                last_output(result),
                {
                    "message": error.get("message") or f"n8n execution {remote}",
                    "node": (error.get("node") or {}).get("name"),
                    "description": error.get("description"),
                    "status": remote,
                },
                remote,
            )
        data = last_output(result) if status == SUCCEEDED else None
        return Execution(status, execution_id, data, None, remote)

    def recent_executions(self, *, workflow: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        self._need_key()
        params: dict[str, Any] = {"limit": max(1, min(limit, MAX_LIMIT))}
        if workflow:
            params["workflowId"] = workflow
        body = self.client.get(self._api("executions"), params=params).body or {}
        return [
            {
                "execution_id": str(e.get("id")),
                "remote_id": str(e.get("workflowId")),
                "status": STATUS.get(str(e.get("status")), RUNNING),
                "remote_status": e.get("status"),
                "started_at": e.get("startedAt"),
                "finished_at": e.get("stoppedAt"),
            }
            for e in body.get("data") or []
        ]


def webhook_node(workflow: dict[str, Any]) -> dict[str, Any] | None:
    for node in workflow.get("nodes") or []:
        if node.get("type") == WEBHOOK_TYPE and not node.get("disabled"):
            return node
    return None


def output_handle(node: dict[str, Any], index: int) -> str:
    """Our handle for an n8n output index: IF 0/1 -> true/false, Switch -> its cases."""
    node_type = node.get("type")
    if node_type == IF_TYPE:
        return "true" if index == 0 else "false"
    if node_type == SWITCH_TYPE:
        params = node.get("parameters") or {}
        rules = ((params.get("rules") or {}).get("values")) or []
        if index < len(rules):
            key = rules[index].get("outputKey") if isinstance(rules[index], dict) else None
            return str(key) if key else f"case_{index}"
        return "fallback"
    return "main" if index == 0 else f"output_{index}"


def last_output(result: dict[str, Any]) -> Any:
    """The last executed node's output items' JSON (one item: that object)."""
    run_data = result.get("runData") or {}
    last = result.get("lastNodeExecuted")
    runs = run_data.get(last) or []
    if not runs:
        return None
    main = ((runs[-1].get("data") or {}).get("main")) or [[]]
    items = [item.get("json") for item in (main[0] or []) if isinstance(item, dict)]
    return items[0] if len(items) == 1 else items


def _reference_of(execution: dict[str, Any]) -> str | None:
    """Our reference as the Webhook node recorded it (in its output once the execution ran,
    in the execution stack while it waits to run), found by a bounded walk of `data`."""
    key = REF_HEADER.lower()
    stack: list[tuple[Any, int]] = [(execution.get("data"), 0)]
    seen = 0
    while stack and seen < 20_000:
        value, depth = stack.pop()
        seen += 1
        if isinstance(value, dict):
            if isinstance(value.get(key), str):
                return value[key]
            if depth < 14:
                stack.extend((v, depth + 1) for v in value.values() if isinstance(v, dict | list))
        elif isinstance(value, list) and depth < 14:
            stack.extend((v, depth + 1) for v in value if isinstance(v, dict | list))
    return None


def _with_callback(data: Any, callback_url: str | None) -> Any:
    if not callback_url:
        return data
    if isinstance(data, dict):
        return {**data, "callback_url": callback_url}
    return {"data": data, "callback_url": callback_url}
