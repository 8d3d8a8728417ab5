"""The connector editor form: a connector's config as editable fields, and back.

Pure functions over plain dicts (a `QueryDict` works as the posted data). Each step block
of the page carries a hidden `step_key` (its DOM order is the step order) and fields named
`s-<key>-<field>`, so steps can be added, removed and reordered in the browser without
renumbering. Keys the form does not edit (a step's `retry` or `description`, the
connector's `response_mapping`, retry delays) ride along unchanged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from config import json_input
from workflows.engine.httpcall import AUTH_TYPES, BODY_TYPES, METHODS

from .config import DEFAULT_MAX_ATTEMPTS, SINGLE_STEP_NAME, is_multi_step, step_documents
from .secrets import masked

AUTH_FIELDS = ("token", "in", "name", "value", "username", "password")
EDITED_STEP_KEYS = frozenset(
    {
        "name",
        "method",
        "url",
        "queryParams",
        "query",
        "headers",
        "auth",
        "body",
        "bodyType",
        "body_type",
        "timeout_ms",
        "continue_on_error",
    }
)
EDITED_TOP_KEYS = frozenset({"steps", "combine_outputs"})
_INPUT_REF = re.compile(r"\binput\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")


@dataclass
class StepForm:
    """One step as the form shows it (every value a string, as typed)."""

    key: str
    name: str = ""
    method: str = "GET"
    url: str = ""
    query: str = ""
    headers: str = ""
    auth_type: str = "none"
    auth: dict[str, str] = field(default_factory=dict)  # token, in, name, value, username, password
    body_type: str = "json"
    body: str = ""
    timeout_ms: str = ""
    continue_on_error: bool = False
    extra: str = ""  # JSON of the step's keys the form does not edit
    errors: dict[str, list[str]] = field(default_factory=dict)  # form field → messages

    def auth_value(self, name: str) -> str:
        return self.auth.get(name, "")


@dataclass
class ConnectorForm:
    """The whole editor: connector fields, steps and the test input, plus field errors."""

    name: str = ""
    description: str = ""
    workspace: str = ""
    timeout_ms: str = "30000"
    retries: str = str(DEFAULT_MAX_ATTEMPTS - 1)
    combine_outputs: bool = False
    steps: list[StepForm] = field(default_factory=list)
    sample_input: str = "{}"
    extra: str = ""  # JSON of the connector config's keys the form does not edit
    errors: dict[str, list[str]] = field(default_factory=dict)  # connector-level field → messages

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(s.errors for s in self.steps)

    def error_count(self) -> int:
        return sum(len(v) for v in self.errors.values()) + sum(
            len(v) for s in self.steps for v in s.errors.values()
        )


# ------------------------------------------------------------------------ config → form


def form_from_connector(connector) -> ConnectorForm:
    config = masked(connector.config) if isinstance(connector.config, dict) else {}
    form = form_from_config(config)
    form.name, form.description = connector.name, connector.description
    form.workspace, form.timeout_ms = str(connector.workspace_id), str(connector.timeout_ms)
    return form


def form_from_config(config: dict[str, Any]) -> ConnectorForm:
    form = ConnectorForm(combine_outputs=config.get("combine_outputs") is True)
    retry = config.get("retry") if isinstance(config.get("retry"), dict) else {}
    if isinstance(retry.get("max_attempts"), int):
        form.retries = str(max(retry["max_attempts"] - 1, 0))
    extra = {
        k: v
        for k, v in config.items()
        if k not in EDITED_TOP_KEYS | {"continue_on_error"}
        and (is_multi_step(config) or k in ("response_mapping", "retry", "type"))
    }
    if isinstance(extra.get("retry"), dict):
        extra["retry"] = {k: v for k, v in extra["retry"].items() if k != "max_attempts"} or None
        if extra["retry"] is None:
            del extra["retry"]
    form.extra = json.dumps(extra) if extra else ""
    documents = step_documents(config)
    if is_multi_step(config) and "continue_on_error" in config:
        # A connector-wide continue_on_error becomes each step's own (a step's setting wins anyway).
        documents = [{"continue_on_error": config["continue_on_error"], **s} for s in documents]
    form.steps = [step_form(f"k{i}", step) for i, step in enumerate(documents)] or [StepForm(key="k0")]
    form.sample_input = (
        json.dumps({name: "" for name in sorted(input_refs(config))}, indent=2)
        if input_refs(config)
        else "{}"
    )
    return form


def step_form(key: str, step: dict[str, Any]) -> StepForm:
    auth = step.get("auth") if isinstance(step.get("auth"), dict) else {}
    body = step.get("body")
    extra = {k: v for k, v in step.items() if k not in EDITED_STEP_KEYS}
    return StepForm(
        key=key,
        name=_text(step.get("name")),
        method=_text(step.get("method") or "GET").upper(),
        url=_text(step.get("url")),
        query=pairs_text(step.get("queryParams", step.get("query"))),
        headers=pairs_text(step.get("headers")),
        auth_type=_text(auth.get("type") or "none"),
        auth={k: _text(auth.get(k)) for k in AUTH_FIELDS if auth.get(k) is not None},
        body_type=_text(step.get("bodyType", step.get("body_type")) or "json"),
        body="" if body is None else body if isinstance(body, str) else json.dumps(body, indent=2),
        timeout_ms=_text(step.get("timeout_ms")),
        continue_on_error=step.get("continue_on_error") is True,
        extra=json.dumps(extra) if extra else "",
    )


def pairs_text(value: Any) -> str:
    """An object as `name: value` lines (lists repeat the name)."""
    if not isinstance(value, dict):
        return ""
    lines = []
    for name, item in value.items():
        for v in item if isinstance(item, list) else [item]:
            lines.append(f"{name}: {v if isinstance(v, str) else json.dumps(v)}")
    return "\n".join(lines)


def input_refs(value: Any) -> set[str]:
    """Top-level `input.<name>` fields the config's templates read (for a sample input)."""
    if isinstance(value, str):
        found: set[str] = set()
        for expression in re.findall(r"\{\{(.*?)\}\}", value, re.S):
            found.update(_INPUT_REF.findall(expression))
        return found
    if isinstance(value, dict):
        return set().union(set(), *(input_refs(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(set(), *(input_refs(v) for v in value))
    return set()


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


# ------------------------------------------------------------------------ form → config


def form_from_post(data) -> ConnectorForm:
    """The editor as posted (strings kept exactly as typed, so a re-render shows them)."""
    form = ConnectorForm(
        name=data.get("name", ""),
        description=data.get("description", ""),
        workspace=data.get("workspace", ""),
        timeout_ms=data.get("timeout_ms", "").strip(),
        retries=data.get("retries", "").strip(),
        combine_outputs=data.get("combine_outputs") == "on",
        sample_input=data.get("sample_input", "{}"),
        extra=data.get("extra", ""),
    )
    for key in data.getlist("step_key"):
        if not re.fullmatch(r"[A-Za-z0-9_]{1,20}", key) or any(s.key == key for s in form.steps):
            continue
        get = lambda name, key=key: data.get(f"s-{key}-{name}", "")  # noqa: E731
        form.steps.append(
            StepForm(
                key=key,
                name=get("name").strip(),
                method=get("method").upper() or "GET",
                url=get("url").strip(),
                query=get("query"),
                headers=get("headers"),
                auth_type=get("auth_type") or "none",
                auth={k: get(f"auth_{k}") for k in AUTH_FIELDS if get(f"auth_{k}") != ""},
                body_type=get("body_type") or "json",
                body=get("body"),
                timeout_ms=get("timeout_ms").strip(),
                continue_on_error=get("continue_on_error") == "on",
                extra=get("extra"),
            )
        )
    return form


def config_from_form(form: ConnectorForm) -> tuple[dict[str, Any], int | None]:
    """Build the config (and timeout_ms) from the form, recording what cannot even be parsed
    as errors on the form. The result still goes through the config validation."""
    extra = _json_object(form.extra, form.errors, "general", "The editor's hidden settings are corrupt.")
    steps = [_step_config(step) for step in form.steps]
    retries = _integer(form.retries, form.errors, "retries", low=0, high=9, label="Retries")
    if retries is not None:
        retry = dict(extra.get("retry") or {}) if isinstance(extra.get("retry"), dict) else {}
        if retries != DEFAULT_MAX_ATTEMPTS - 1 or retry:
            extra["retry"] = {
                "max_attempts": retries + 1,
                **{k: v for k, v in retry.items() if k != "max_attempts"},
            }
    timeout_ms = _integer(form.timeout_ms, form.errors, "timeout_ms", low=1, high=None, label="Timeout")
    if not steps:
        form.errors.setdefault("steps", []).append("Add at least one step.")
    if len(steps) == 1:
        config = {**steps[0], **extra}
        config.pop("type", None)
        if config.get("name") == SINGLE_STEP_NAME:
            config.pop("name")
    else:
        config = {**extra, "steps": steps}
    if form.combine_outputs:
        config["combine_outputs"] = True
    return config, timeout_ms


def _step_config(step: StepForm) -> dict[str, Any]:
    errors = step.errors
    out: dict[str, Any] = {}
    if step.name:
        out["name"] = step.name
    out["method"] = step.method
    out["url"] = step.url
    query = parse_pairs(step.query, errors, "query")
    if query:
        out["queryParams"] = query
    headers = parse_pairs(step.headers, errors, "headers")
    if headers:
        out["headers"] = headers
    if step.auth_type not in AUTH_TYPES:
        errors.setdefault("auth_type", []).append(f"Choose one of {', '.join(AUTH_TYPES)}.")
    elif step.auth_type != "none":
        wanted = {"bearer": ("token",), "api_key": ("in", "name", "value"), "basic": ("username", "password")}
        auth = {"type": step.auth_type}
        auth.update({k: step.auth[k] for k in wanted[step.auth_type] if step.auth.get(k, "") != ""})
        out["auth"] = auth
    if step.body_type not in BODY_TYPES:
        errors.setdefault("body_type", []).append(f"Choose one of {', '.join(BODY_TYPES)}.")
    body = step.body
    if body.strip():
        if step.body_type in ("json", "form") and not _is_one_template(body):
            try:
                out["body"] = json_input.loads(body)
            except json_input.JSONRefused as exc:
                errors.setdefault("body", []).append(str(exc))
            except ValueError as exc:
                errors.setdefault("body", []).append(
                    f"A {step.body_type} body must be JSON ({exc.msg} at line {exc.lineno}); templates go "
                    'inside strings, e.g. {"email": "{{ input.email }}"}.'
                )
        else:
            out["body"] = body
    if body.strip() or step.body_type != "json":
        out["bodyType"] = step.body_type
    timeout = _integer(step.timeout_ms, errors, "timeout_ms", low=1, high=None, label="Timeout")
    if timeout is not None:
        out["timeout_ms"] = timeout
    if step.continue_on_error:
        out["continue_on_error"] = True
    out.update(
        {
            k: v
            for k, v in _json_object(
                step.extra, errors, "general", "Hidden step settings are corrupt."
            ).items()
            if k not in out
        }
    )
    if step.method not in METHODS:
        errors.setdefault("method", []).append(f"Choose one of {', '.join(METHODS)}.")
    return out


def _is_one_template(text: str) -> bool:
    text = text.strip()
    return text.startswith("{{") and text.endswith("}}") and text.count("{{") == 1


def parse_pairs(text: str, errors: dict[str, list[str]], field_name: str) -> dict[str, Any]:
    """`name: value` lines into an object; a repeated name collects its values in a list."""
    result: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            errors.setdefault(field_name, []).append(f"Line {number}: write one `name: value` per line.")
            continue
        name, value = name.strip(), value.strip()
        if name in result:
            result[name] = (result[name] if isinstance(result[name], list) else [result[name]]) + [value]
        else:
            result[name] = value
    return result


def _integer(
    text: str, errors: dict[str, list[str]], field_name: str, *, low: int, high: int | None, label: str
) -> int | None:
    if text == "":
        return None
    try:
        value = int(text)
    except ValueError:
        errors.setdefault(field_name, []).append(f"{label} must be a whole number.")
        return None
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"at least {low}"
        errors.setdefault(field_name, []).append(f"{label} must be {bound}.")
        return None
    return value


def _json_object(text: str, errors: dict[str, list[str]], field_name: str, message: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        value = json_input.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        errors.setdefault(field_name, []).append(message)
        return {}
    return value


# ------------------------------------------------------------------- validation → fields

_STEP_PREFIX = re.compile(r"^Step \d+(?: \('[^']*'\))?: ")
_STEP_FIELD = {
    "name": "name",
    "method": "method",
    "url": "url",
    "queryParams": "query",
    "query": "query",
    "headers": "headers",
    "body": "body",
    "bodyType": "body_type",
    "body_type": "body_type",
    "timeout_ms": "timeout_ms",
    "continue_on_error": "continue_on_error",
}
_TOP_FIELD = {
    "name": "name",
    "description": "description",
    "timeout_ms": "timeout_ms",
    "config.combine_outputs": "combine_outputs",
    "config.retry": "retries",
    "config.steps": "steps",
}


def attach_problems(form: ConnectorForm, problems: dict[str, list[str]], *, multi_step: bool) -> None:
    """Put validation messages ({dotted field: [messages]}) next to the form fields they name."""
    for path, messages in problems.items():
        target, name = _locate(form, path, multi_step=multi_step)
        if target is not form.errors:  # shown inside its step: no need to say which step
            messages = [_STEP_PREFIX.sub("", m, count=1) for m in messages]
        bucket = target.setdefault(name, [])
        bucket.extend(m for m in messages if m not in bucket)


def _locate(form: ConnectorForm, path: str, *, multi_step: bool) -> tuple[dict[str, list[str]], str]:
    for prefix, name in _TOP_FIELD.items():
        if path == prefix or path.startswith(prefix + "."):
            if prefix == "config.steps" and path != prefix:
                break
            return form.errors, name
    rest = None
    if multi_step:
        match = re.match(r"config\.steps\.(\d+)(?:\.(.+))?$", path)
        if match and int(match.group(1)) < len(form.steps):
            step, rest = form.steps[int(match.group(1))], match.group(2) or ""
    elif path.startswith("config.") and form.steps and not path.startswith("config.response_mapping"):
        step, rest = form.steps[0], path[len("config.") :]
    if rest is None:
        return form.errors, "general"
    head, _, tail = rest.partition(".")
    if head == "auth":
        sub = tail.split(".")[0]
        return step.errors, f"auth_{sub}" if sub in AUTH_FIELDS else "auth_type"
    return step.errors, _STEP_FIELD.get(head, "general")
