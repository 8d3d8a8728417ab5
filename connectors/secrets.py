"""Secrets typed into a connector's config (auth token, password or API key, headers and
query parameters named like credentials, and those written into a step's URL), handled
as those typed into a workflow document are (`workflows.trigger_secrets`): sealed at
rest, `***` in every answer and in the editor, kept when `***` comes back, and their text
used, in memory, when the connector runs (and masked in what the execution stores)."""

from __future__ import annotations

from typing import Any

from workflows import trigger_secrets as sealing

from .config import is_multi_step

SECRET_FIELDS = (
    "auth.token",
    "auth.password",
    "auth.value",
    "headers.*",
    "queryParams.*",
    "query.*",
    "url#secrets",
)


def _fields(_node: dict) -> tuple[str, ...]:
    return SECRET_FIELDS


def _as_document(config: Any) -> dict:
    """The config's steps as the nodes of a document (keyed by step name), for the sealing
    functions."""
    if not isinstance(config, dict):
        return {"nodes": []}
    if not is_multi_step(config):
        return {"nodes": [{"id": "request", "config": config}]}
    steps = config.get("steps") if isinstance(config.get("steps"), list) else []
    return {
        "nodes": [
            {"id": f"{i}:{step.get('name', '')}" if isinstance(step, dict) else str(i), "config": step}
            for i, step in enumerate(steps)
        ]
    }


def _from_document(config: Any, document: dict) -> Any:
    if not document["nodes"] or not isinstance(config, dict):
        return config
    if not is_multi_step(config):
        return document["nodes"][0]["config"]
    return {**config, "steps": [node["config"] for node in document["nodes"]]}


def masked(config: Any) -> Any:
    return _from_document(config, sealing.mask_document(_as_document(config), _fields))


def sealed(config: Any, previous: Any = None) -> Any:
    """`config` as stored: `***` replaced by the secret `previous` holds there, the rest sealed."""
    before = [_as_document(previous)] if previous is not None else []
    document = sealing.restore_masked(_as_document(config), before, _fields)
    return _from_document(config, sealing.seal_document(document, before, _fields))


def unset(config: Any) -> list[str]:
    """The secret fields left `***` with nothing stored to keep (a copied connector)."""
    return [field for _node, field in sealing.unset_secrets(_as_document(config), _fields)]


def unsealed(config: Any) -> tuple[Any, list[str]]:
    """The config with the text of its sealed secrets, and those texts (to mask them)."""
    document = _as_document(config)
    texts = sealing.sealed_texts(document, _fields)
    if not texts:
        return config, []
    return _from_document(config, sealing.unseal_document(document, _fields)), texts
