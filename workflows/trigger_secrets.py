"""Secrets typed into a workflow document: a trigger's (a webhook's header token or HMAC
secret, a chat bot's secret token, a payment signing secret: the config fields the trigger
type lists in `TriggerSpec.secret_fields`) and a node's (an HTTP request's auth token,
password or API key and credential-named headers and query parameters: its type's
`NodeType.secret_fields`).

- At rest they are sealed: every document stored (versions, node rows, drafts) holds
  `sealed:v1:<Fernet token>` (FIELD_ENCRYPTION_KEY, like workspace credentials) instead of
  the text, so neither the database nor the admin shows it.
- In every answer (API, pages, export, versions, drafts, websocket) the value is `***`.
  A `{{ workspace.<credential> }}` reference is shown as written: it is not a secret.
- A write that sends `***` back keeps the secret stored for that node (same node id and
  field, in the draft or the latest version). With nothing to keep (a copy, an import of
  an export) the `***` is stored: the secret is unset, it matches no request, and the
  workflow cannot be activated until it is typed again (`unset_secrets`).
- A field named `<path>#secrets` is the secrets written into the URL at `<path>`: the
  password of its userinfo (`https://user:s3cret@host/`) and the values of its query
  parameters named like credentials (`?api_key=...`). Those parts alone are sealed and
  shown as `***` (`https://user:***@host/x?api_key=***`); the rest stays readable.
- A secret field holding a list (`query: {"api_key": ["a", "b"]}`) has each of its
  strings handled as a secret of its own (fields `query.api_key.0`, `query.api_key.1`).
- Intake reads the text with `unseal` (`runs.intake.secret`); a run's document is
  unsealed in memory when the run is loaded (`runs.store`), and its texts are masked in
  whatever the run stores.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import InvalidToken
from encrypted_model_fields.fields import decrypt_str, encrypt_str

from .engine.masking import (
    MASK,
    is_sensitive_header,
    password_texts,
    url_password,
    url_query_secrets,
    url_query_value,
    with_url_password,
    with_url_query_value,
)
from .engine.registry import registry

SEALED = "sealed:v1:"
URL_SECRETS = "#secrets"  # a secret field's suffix: the secrets written into the URL held there


class _Password:
    """The last part of a slot's path: the userinfo password of the URL at the path before."""

    def __repr__(self) -> str:
        return "#password"


@dataclass(frozen=True)
class _QueryValue:
    """The last part of a slot's path: the `n`th credential-named query parameter called
    `name` in the URL at the path before."""

    name: str
    n: int


PASSWORD = _Password()
Path = list  # config keys, list indexes, and a URL's secret (PASSWORD, _QueryValue) last


def seal(text: str) -> str:
    return SEALED + encrypt_str(text).decode("ascii")


def unseal(value: Any) -> Any:
    """The text of a sealed value (anything else as it is); "" if it cannot be decrypted
    (sealed with a key that is gone: nothing can match it)."""
    if isinstance(value, str) and value.startswith(SEALED):
        try:
            return decrypt_str(value[len(SEALED) :])
        except (InvalidToken, ValueError):
            return ""
    return value


def _is_secret_text(value: Any) -> bool:
    """A literal secret: a non-empty string that is no `{{ ... }}` reference and not the
    mask (`***` with nothing stored to keep is an unset secret: stored as it is)."""
    return isinstance(value, str) and bool(value) and "{{" not in value and value != MASK


FieldsOf = Callable[[dict], tuple[str, ...]]


def _registered_fields(node: dict) -> tuple[str, ...]:
    """The secret fields of a node of a registered type (its trigger's and its own)."""
    if not isinstance(node.get("type"), str) or node["type"] not in registry:
        return ()
    spec = registry.trigger_spec(node["type"])
    return (spec.secret_fields if spec else ()) + registry.get(node["type"]).secret_fields


def _secret_slots(document: Any, fields_of: FieldsOf | None = None) -> Iterator[tuple[int, dict, str, Path]]:
    """(node index, node, dotted field, path) of every secret field a node of the document
    has: its trigger's `secret_fields` and its type's own (`*` expanded to the keys named
    like a credential), or those `fields_of(node)` names. Drafts may be any JSON: whatever
    is not shaped right is passed over."""
    nodes = document.get("nodes") if isinstance(document, dict) else None
    if not isinstance(nodes, list):
        return
    for index, node in enumerate(nodes):
        if not isinstance(node, dict):
            continue
        for field in (fields_of or _registered_fields)(node):
            in_url = field.endswith(URL_SECRETS)
            pattern = field.removesuffix(URL_SECRETS).split(".")
            for path in _expand(node.get("config"), pattern):
                if in_url:
                    yield from _url_slots(index, node, path)
                    continue
                value = _get(node, path)
                if not isinstance(value, list):
                    yield index, node, ".".join(path), path
                    continue
                for i in range(len(value)):  # each string of a list-valued secret
                    yield index, node, ".".join([*path, str(i)]), [*path, i]


def _url_slots(index: int, node: dict, path: list[str]) -> Iterator[tuple[int, dict, str, Path]]:
    """The URL's password (field `url`) and its credential-named query parameters (field
    `url?api_key`, `url?api_key.1` for a second one)."""
    field = ".".join(path)
    yield index, node, field, [*path, PASSWORD]
    seen: dict[str, int] = {}
    for name, _start, _end in url_query_secrets(_get(node, path)):
        n = seen[name] = seen.get(name, -1) + 1
        yield index, node, f"{field}?{name}" + (f".{n}" if n else ""), [*path, _QueryValue(name, n)]


def _expand(config: Any, pattern: list[str]) -> Iterator[list[str]]:
    """The concrete paths `pattern` names in `config` (`*`: keys named like a credential)."""
    if "*" not in pattern:
        yield pattern
        return
    star = pattern.index("*")
    parent = _get({"config": config}, pattern[:star])
    if isinstance(parent, dict):
        for key in parent:
            if isinstance(key, str) and is_sensitive_header(key):
                yield from _expand(config, [*pattern[:star], key, *pattern[star + 1 :]])


def _get(node: dict, path: Path) -> Any:
    value: Any = node.get("config")
    for part in path:
        if part is PASSWORD:
            return url_password(value)
        if isinstance(part, _QueryValue):
            return url_query_value(value, part.name, part.n)
        if isinstance(part, int):
            value = value[part] if isinstance(value, list) and part < len(value) else None
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


def _put(container: Any, path: Path, value: Any) -> Any:
    """`container` with `value` at `path` (set in place; a URL, a string, is rebuilt)."""
    part = path[0]
    if part is PASSWORD:
        return with_url_password(container, value)
    if isinstance(part, _QueryValue):
        return with_url_query_value(container, part.name, part.n, value)
    container[part] = value if len(path) == 1 else _put(container[part], path[1:], value)
    return container


def _with(document: dict, index: int, path: Path, value: Any) -> None:
    """Set the node's config value at `path` (its dicts are copies by now, see `_copy`)."""
    node = document["nodes"][index]
    node["config"] = _put(node["config"], path, value)


def _copy(document: Any) -> Any:
    return copy.deepcopy(document)


def mask_document(document: Any, fields_of: FieldsOf | None = None) -> Any:
    """A copy of `document` with every literal trigger secret (sealed or not) as `***`."""
    slots = [
        (i, p) for i, node, _f, p in _secret_slots(document, fields_of) if _is_secret_text(_get(node, p))
    ]
    if not slots:
        return document
    document = _copy(document)
    for index, path in slots:
        _with(document, index, path, MASK)
    return document


def unseal_document(document: Any, fields_of: FieldsOf | None = None) -> Any:
    """A copy of `document` with the text of every sealed trigger secret (in memory only:
    to validate it, or to edit it before sealing it again)."""
    slots = [(i, p) for i, node, _f, p in _secret_slots(document, fields_of) if _sealed(_get(node, p))]
    if not slots:
        return document
    document = _copy(document)
    for index, path in slots:
        _with(document, index, path, unseal(_get(document["nodes"][index], path)))
    return document


def sealed_texts(document: Any, fields_of: FieldsOf | None = None) -> list[str]:
    """The texts of the document's sealed secrets (to mask them wherever a run stores)."""
    texts = []
    for _i, node, _f, path in _secret_slots(document, fields_of):
        if _sealed(value := _get(node, path)) and (text := unseal(value)):
            # written into a URL, as written and decoded (a password goes out in a Basic header)
            in_url = path[-1] is PASSWORD or isinstance(path[-1], _QueryValue)
            texts += password_texts(text) if in_url else [text]
    return texts


def _sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(SEALED)


def _stored(previous: Iterable[Any], fields_of: FieldsOf | None) -> dict[tuple[str, str], str]:
    """(node id, field) -> the sealed (or, before sealing existed, plain) secret stored
    there, the first document of `previous` that has one winning."""
    found: dict[tuple[str, str], str] = {}
    for document in previous:
        for _i, node, field, path in _secret_slots(document, fields_of):
            value = _get(node, path)
            if _is_secret_text(value):
                found.setdefault((str(node.get("id")), field), value)
    return found


def unset_secrets(document: Any, fields_of: FieldsOf | None = None) -> list[tuple[str, str]]:
    """(node id, field) of every trigger secret left `***` (nothing was stored to keep)."""
    return [
        (str(node.get("id")), f)
        for _i, node, f, p in _secret_slots(document, fields_of)
        if _get(node, p) == MASK
    ]


def restore_masked(document: Any, previous: Iterable[Any], fields_of: FieldsOf | None = None) -> Any:
    """`document` with each `***` secret replaced by the text stored for that node and
    field in `previous` (documents, most relevant first); where nothing is stored the
    `***` stays (see the module docstring)."""
    slots = [(i, node, f, p) for i, node, f, p in _secret_slots(document, fields_of) if _get(node, p) == MASK]
    if not slots:
        return document
    stored = _stored(previous, fields_of)
    document = _copy(document)
    for index, node, field, path in slots:
        kept = stored.get((str(node.get("id")), field))
        if kept is None:
            continue
        _with(document, index, path, unseal(kept))
    return document


def seal_document(document: Any, previous: Iterable[Any] = (), fields_of: FieldsOf | None = None) -> Any:
    """A copy of `document` with every literal trigger secret sealed. A secret equal to the
    one stored for the node in `previous` keeps that sealed value (saving an unchanged
    document makes no new version)."""
    slots = [
        (i, node, f, p)
        for i, node, f, p in _secret_slots(document, fields_of)
        if _is_secret_text(_get(node, p))
    ]
    if not slots:
        return document
    stored = _stored(previous, fields_of)
    document = _copy(document)
    for index, node, field, path in slots:
        value = _get(node, path)
        kept = stored.get((str(node.get("id")), field))
        if kept is not None and value == kept and _sealed(kept):
            continue  # already the stored, sealed value
        if kept is not None and _sealed(kept) and unseal(kept) == value:
            _with(document, index, path, kept)
        else:
            _with(document, index, path, seal(value))
    return document
