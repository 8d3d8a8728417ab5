"""`provider.n8n`, `provider.make`, `provider.zapier`: run a workflow kept at an outside
provider and wait for it (SPEC §5), registered from `ProvidersConfig.ready()`.

Wait modes: `none` (the provider's answer is the output), `poll` (the node parks on a
timer between polls, so no worker is held; each poll is logged; `poll.success_condition` /
`poll.failure_condition` over `remote` = {status, data, remote_status, execution_id} refine the
provider's own statuses), `callback` (a correlation token; the node parks until the remote
workflow POSTs to `callback_url`, or fails with TIMEOUT_ERROR at `expires_in_s`, default
the node's `timeout_ms`, then on_timeout applies). Calls reach the host through the
engine's "providers" capability, as `connector.run` reaches connectors.

The node renders its own config (after creating the callback token, so `{{ callback.url }}`
works in `data`); the poll conditions are evaluated per poll.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from workflows.engine.conditions import check_condition, evaluate_condition
from workflows.engine.errors import ErrorCategory, NodeError
from workflows.engine.registry import NodeContext, NodeResult, Wait, node_type

from .adapters import FAILED, RUNNING, SUCCEEDED, Execution, registry
from .services import node_output, remote_failure

DEFAULT_CALLBACK_EXPIRY_S = 24 * 3600
_TEMPLATED = {"type": "string", "pattern": r"\{\{"}
_CONDITIONS = ("success_condition", "failure_condition")


def config_schema(provider: str) -> dict[str, Any]:
    adapter = registry.get(provider)
    wait_default = adapter.default_wait
    workflow_title = "Hook URL (or leave to the connection)" if provider == "zapier" else "Remote workflow id"
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "connection": {"type": "string", "title": "Connection (id or name)"},
            "workflow": {"type": ["string", "integer"], "title": workflow_title},
            "data": {"title": "Data sent", "description": "a template object; {{ callback.url }} works here"},
            "wait": {"type": "string", "enum": ["none", "poll", "callback"], "default": wait_default},
            "poll": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "interval_s": {
                        "anyOf": [{"type": "number", "exclusiveMinimum": 0}, _TEMPLATED],
                        "default": 5,
                    },
                    "max_attempts": {"anyOf": [{"type": "integer", "minimum": 1}, _TEMPLATED], "default": 60},
                    "success_condition": {"title": "Done when (over `remote`)"},
                    "failure_condition": {"title": "Failed when (over `remote`)"},
                },
            },
            "expires_in_s": {
                "anyOf": [{"type": "number", "exclusiveMinimum": 0}, _TEMPLATED, {"type": "null"}],
                "title": "Callback expiry (s)",
            },
            "options": {"type": "object", "title": "Provider options"},
        },
    }
    if provider == "n8n":
        schema["properties"]["execution"] = {
            "type": ["string", "integer"],
            "title": "Resume this waiting n8n execution (Wait node, 'On Webhook Call')",
        }
    if provider != "zapier":
        schema["required"] = ["connection"]
    return schema


def _validate(provider: str):
    def validate(config: dict[str, Any]):
        poll = config.get("poll") or {}
        for key in _CONDITIONS:
            if poll.get(key) not in (None, ""):
                yield from ((f"poll.{k}", m) for k, m in check_condition(poll[key], key))
        wait = config.get("wait", registry.get(provider).default_wait)
        if provider == "zapier":
            if wait == "poll":
                yield ("wait", "Zapier has no execution API to poll: use wait 'callback' or 'none'")
            if not config.get("connection") and not str(config.get("workflow", "")).startswith("http"):
                yield ("connection", "name a Zapier connection, or give the Catch Hook URL as workflow")
        else:
            options = config.get("options") if isinstance(config.get("options"), dict) else {}
            hook = options.get("hook") or options.get("hook_url")
            if not config.get("workflow") and not config.get("execution") and not hook:
                yield ("workflow", "workflow must name the remote workflow (its id)")
            if hook and provider == "make" and wait == "poll":
                yield ("wait", "a Make webhook gives no execution to poll: use wait 'callback' or 'none'")

    return validate


def _positive(value: Any, name: str, default: float) -> float:
    try:
        number = float(default if value in (None, "") else value)
    except (TypeError, ValueError):
        raise NodeError(ErrorCategory.VALIDATION_ERROR, f"{name} must be a number", retryable=False) from None
    if number <= 0:
        raise NodeError(ErrorCategory.VALIDATION_ERROR, f"{name} must be positive", retryable=False)
    return number


def _host(ctx: NodeContext):
    try:
        return ctx.services.capability("providers")
    except NotImplementedError as exc:
        raise NodeError(
            ErrorCategory.INTEGRATION_ERROR, f"providers are not available here: {exc}", retryable=False
        ) from None


def _render(ctx: NodeContext, callback: dict[str, Any] | None) -> dict[str, Any]:
    raw = dict(ctx.raw_config)
    poll = dict(raw.pop("poll", None) or {})
    conditions = {k: poll.pop(k) for k in _CONDITIONS if k in poll}
    config = ctx.render(raw, callback=callback or {}) if callback else ctx.render(raw)
    config["poll"] = {**ctx.render(poll), **conditions}
    return config


def make_executor(provider: str):
    label = registry.get(provider).label

    def execute(ctx: NodeContext) -> NodeResult | Wait:
        host = _host(ctx)
        raw = ctx.raw_config
        wait = raw.get("wait") or registry.get(provider).default_wait
        data = ctx.wait_data or {}
        if ctx.resume is not None and data.get("phase") == "poll":
            return _poll(ctx, host, provider, data)
        if ctx.resume is not None and data.get("phase") == "callback":
            answer = host(
                "callback_result",
                provider=provider,
                payload=ctx.resume,
                record=data.get("record"),
                execution_id=data.get("execution_id"),
            )
            result = Execution(**answer["execution"])
            ctx.log("info", f"{label} callback received: {result.status}")
            if result.status == FAILED:
                raise remote_failure(provider, data.get("remote_id", ""), result)
            return NodeResult(output=node_output(provider, data.get("remote_id", ""), result, SUCCEEDED))

        connection = raw.get("connection")
        # An earlier attempt whose worker died after calling the remote: wait on what it sent.
        prior = host(
            "prior", run_id=ctx.run_id, node_id=ctx.node_id, iteration=ctx.iteration, outer=ctx.outer
        )
        callback = prior.get("callback") if wait == "callback" else None
        if wait == "callback" and not callback:
            expires = raw.get("expires_in_s")
            expires = ctx.render(expires) if isinstance(expires, str) else expires
            if expires in (None, ""):
                timeout_ms = ctx.node.get("timeout_ms")
                expires = timeout_ms / 1000.0 if timeout_ms else DEFAULT_CALLBACK_EXPIRY_S
            callback = host(
                "callback",
                run_id=ctx.run_id,
                node_id=ctx.node_id,
                iteration=ctx.iteration,
                outer=ctx.outer,
                provider=provider,
                connection=ctx.render(connection) if isinstance(connection, str) else connection,
                expires_in_s=_positive(expires, "expires_in_s", DEFAULT_CALLBACK_EXPIRY_S),
                node_type=f"provider.{provider}",
            )
        config = _render(ctx, callback)
        remote_id = str(config.get("workflow") or "")
        remaining = ctx.remaining_s()
        answer = host(
            "execute",
            run_id=ctx.run_id,
            node_id=ctx.node_id,
            provider=provider,
            connection=config.get("connection"),
            workflow=remote_id,
            data=config["data"] if "data" in config else ctx.input,
            wait=wait,
            callback_url=(callback or {}).get("url"),
            execution=config.get("execution"),
            options=config.get("options") or {},
            timeout_s=min(60.0, remaining) if remaining is not None else 60.0,
            iteration=ctx.iteration,
            outer=ctx.outer,
            callback=callback,
        )
        for note in answer.get("notes") or []:
            ctx.log("warning", note)
        for call in answer.get("calls") or []:
            ctx.log("info", f"{call['method']} {call['url']} -> {call['status']} in {call['ms']} ms", call)
        result = Execution(**answer["execution"])
        ctx.log("info", f"{label} execution {result.execution_id or '(no id)'}: {result.remote_status}")
        if result.status == FAILED:
            raise remote_failure(provider, remote_id, result)
        if wait == "none":
            return NodeResult(output=node_output(provider, remote_id, result, "accepted"))
        state = {"remote_id": remote_id, "execution_id": result.execution_id, "record": answer.get("record")}
        if wait == "callback":
            expires_at = callback.get("expires_at")
            until = datetime.fromisoformat(expires_at) if expires_at else None
            return Wait(
                kind="callback",
                until=until,
                data={
                    **state,
                    "phase": "callback",
                    "token": callback["token"],
                    "url": callback["url"],
                    "callback_url": callback["url"],
                    "expires_at": expires_at,
                },
            )
        if result.status == SUCCEEDED and not _has_conditions(config):
            return NodeResult(output=node_output(provider, remote_id, result))
        if not result.execution_id:
            raise NodeError(
                ErrorCategory.INTEGRATION_ERROR,
                f"{label} gave no execution id to poll; use wait 'callback' or 'none' for this workflow",
                {"answer": result.data},
                retryable=False,
            )
        return _next_poll(ctx, {**state, "phase": "poll", "polls": 0}, config, result)

    return execute


def _has_conditions(config: dict[str, Any]) -> bool:
    poll = config.get("poll") or {}
    return any(poll.get(k) not in (None, "") for k in _CONDITIONS)


def _verdict(ctx: NodeContext, config: dict[str, Any], result: Execution) -> str:
    """succeeded / failed / running for one poll, conditions first, then the provider's word."""
    poll = config.get("poll") or {}
    scope = {**ctx.scope, "remote": result.as_dict()}
    if poll.get("failure_condition") not in (None, "") and evaluate_condition(
        poll["failure_condition"], scope
    ):
        return FAILED
    if poll.get("success_condition") not in (None, ""):
        if evaluate_condition(poll["success_condition"], scope):
            return SUCCEEDED
        return FAILED if result.status == FAILED else RUNNING
    return result.status


def _next_poll(ctx: NodeContext, state: dict[str, Any], config: dict[str, Any], result: Execution) -> Wait:
    poll = config.get("poll") or {}
    interval = _positive(poll.get("interval_s"), "poll.interval_s", 5)
    max_polls = int(_positive(poll.get("max_attempts"), "poll.max_attempts", 60))
    if state["polls"] >= max_polls:
        raise NodeError(
            ErrorCategory.TIMEOUT_ERROR,
            f"the remote execution {state.get('execution_id')} was not done after {state['polls']} polls",
            {
                "polls": state["polls"],
                "execution_id": state.get("execution_id"),
                "last": result.remote_status,
            },
            retryable=False,  # retrying would start the remote workflow again
        )
    return Wait(
        kind="timer",
        until=datetime.now(UTC) + timedelta(seconds=interval),
        data={
            **state,
            "execution_id": result.execution_id or state.get("execution_id"),
            "last": result.remote_status,
        },
    )


def _poll(ctx: NodeContext, host, provider: str, state: dict[str, Any]) -> NodeResult | Wait:
    config = _render(ctx, None)
    polls = int(state.get("polls", 0)) + 1
    max_polls = int(_positive((config.get("poll") or {}).get("max_attempts"), "poll.max_attempts", 60))
    state = {**state, "polls": polls}
    try:
        answer = host(
            "poll",
            run_id=ctx.run_id,
            node_id=ctx.node_id,
            provider=provider,
            connection=config.get("connection"),
            workflow=state.get("remote_id"),
            execution_id=state.get("execution_id"),
            record=state.get("record"),
            polls=polls,
            timeout_s=30.0,
        )
    except NodeError as exc:
        if not exc.retryable:
            host("finish", record=state.get("record"), status=FAILED, error=exc.as_dict())
            raise
        # A passing outage costs one poll, not a new remote execution.
        ctx.log("warning", f"poll {polls} of {max_polls} failed ({exc.category}: {exc.message})")
        return _next_poll(ctx, state, config, Execution(RUNNING, state.get("execution_id")))
    result = Execution(**answer["execution"])
    verdict = _verdict(ctx, config, result)
    ctx.log(
        "info",
        f"poll {polls} of {max_polls}: {result.remote_status} ({verdict})",
        {"execution_id": result.execution_id, "remote_status": result.remote_status, "status": verdict},
    )
    if verdict == FAILED:
        host("finish", record=state.get("record"), status=FAILED, error=result.error)
        if result.status != FAILED:
            result.error = {"message": "the failure condition held", "remote_status": result.remote_status}
        raise remote_failure(provider, state.get("remote_id", ""), result)
    if verdict == SUCCEEDED:
        if result.status != SUCCEEDED:
            host("finish", record=state.get("record"), status=SUCCEEDED)
        return NodeResult(output=node_output(provider, state.get("remote_id", ""), result, SUCCEEDED))
    try:
        return _next_poll(ctx, state, config, result)
    except NodeError as exc:  # out of polls: the call is over (a retry starts the remote again)
        host("finish", record=state.get("record"), status=FAILED, error=exc.as_dict())
        raise


def register_all() -> None:
    """Register one `provider.<name>` node type per registered adapter (idempotent)."""
    from workflows.engine.registry import registry as node_registry

    for adapter in registry.all():
        type_name = f"provider.{adapter.name}"
        if type_name in node_registry:
            continue
        node_type(
            type_name,
            label=f"{adapter.label} workflow",
            category="provider",
            icon="cloud",
            description=f"Run a {adapter.label} workflow and wait for it (none / poll / callback).",
            config_schema=config_schema(adapter.name),
            output_schema={
                "type": "object",
                "properties": {
                    "provider": {"type": "string"},
                    "remote_id": {"type": "string"},
                    "execution_id": {"type": ["string", "null"]},
                    "status": {"enum": ["succeeded", "failed", "accepted"]},
                    "data": {},
                },
            },
            validate_config=_validate(adapter.name),
            renders_own_config=lambda config: True,
            handles=("main",),
        )(make_executor(adapter.name))
