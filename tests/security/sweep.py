"""A secret sweep: plant secrets, let a workflow use them, then search every place a user,
an operator or an attacker could read for any readable form of them.

Extend it in two ways:
- a new node type or auth style: register a `@node_use` function that returns the nodes
  (and the extra secrets, credentials or connectors it needs) using the planted secrets;
  the scenario test wires every registered use after the trigger and runs them all;
- a new place to read: add a collector to `Sweep` (or call `sweep.add(source, text)`).

Forms searched for each secret: the plain text, URL-encodings, JSON-escaped (once and
twice), HTML-escaped, base64 (standard and URL-safe, alone and as `user:password`) and
the first 8 characters of each of those (a truncated secret).
"""

from __future__ import annotations

import base64
import html
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

PREFIX = 8


def forms_of(secret: str) -> dict[str, str]:
    """label -> text to search for."""
    forms = {
        "plain": secret,
        "url": quote(secret, safe=""),
        "url-path": quote(secret),
        "url-plus": quote_plus(secret),
        "json": json.dumps(secret)[1:-1],
        "json-utf8": json.dumps(secret, ensure_ascii=False)[1:-1],
        "json-twice": json.dumps(json.dumps(secret)[1:-1])[1:-1],
        "html": html.escape(secret),
        "base64": base64.b64encode(secret.encode()).decode().rstrip("="),
        "base64-url": base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="),
    }
    for label, form in list(forms.items()):
        if len(form) > PREFIX:
            forms[f"{label}-prefix"] = form[:PREFIX]
    return forms


def pair_forms(user: str, password: str) -> dict[str, str]:
    """The Basic-auth forms of a user/password pair (the part the password decides)."""
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode().rstrip("=")
    fixed = len(base64.b64encode(f"{user}:".encode()).decode().rstrip("="))  # user part, +1 mixed
    return {"basic-pair": encoded, "basic-pair-password": encoded[fixed : fixed + PREFIX]}


@dataclass
class Plant:
    """The planted secrets: `credentials` are stored as workspace credentials; `literals`
    are secrets typed into a workflow document (webhook tokens). Neither may be readable
    anywhere: a document's trigger secrets are sealed at rest and shown as `***`."""

    credentials: dict[str, dict[str, str]] = field(default_factory=dict)
    literals: dict[str, str] = field(default_factory=dict)
    pairs: list[tuple[str, str]] = field(default_factory=list)

    def needles(self) -> list[tuple[str, str]]:
        out = []
        values = [(f"{name}.{key}", v) for name, data in self.credentials.items() for key, v in data.items()]
        values += list(self.literals.items())
        for label, value in values:
            out += [(f"{label} ({kind})", form) for kind, form in forms_of(value).items()]
        for user, password in self.pairs:
            out += [(f"{user}:*** ({kind})", form) for kind, form in pair_forms(user, password).items()]
        return out


@dataclass
class Finding:
    source: str
    secret: str
    context: str

    def __str__(self) -> str:
        return f"{self.source}: {self.secret} in …{self.context}…"


class Sweep:
    """Collects readable texts by source, then reports every secret form found."""

    def __init__(self, plant: Plant):
        self.plant = plant
        self.texts: list[tuple[str, str]] = []  # (source, text)

    def add(self, source: str, value: Any) -> None:
        """Add a text (or any JSON-able value) read from `source`."""
        text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
        self.texts.append((source, text))

    def findings(self) -> list[Finding]:
        needles = self.plant.needles()
        found = []
        for source, text in self.texts:
            for label, needle in needles:
                at = text.find(needle)
                if at >= 0:
                    found.append(Finding(source, label, text[max(0, at - 60) : at + len(needle) + 60]))
        return found

    # -- collectors ---------------------------------------------------------------------
    def database(self) -> None:
        """Every row of every table, as the database holds it (raw SQL: what a DBA or a
        backup sees; encrypted columns and sealed trigger secrets stay encrypted)."""
        from django.db import connection

        with connection.cursor() as cursor:
            for table in connection.introspection.table_names():
                cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
                rows = cursor.fetchall()
                if rows:
                    self.add(f"table {table}", [[_cell(c) for c in row] for row in rows])

    def logs(self, records: Iterable[logging.LogRecord]) -> None:
        for record in records:
            text = record.getMessage()
            if record.exc_info:
                text += logging.Formatter().formatException(record.exc_info)
            self.add(f"log {record.name}", text)

    def api(self, client, paths: Iterable[str]) -> None:
        for path in paths:
            response = client.get(path)
            assert response.status_code < 500, (path, response.status_code)
            self.add(f"GET {path}", response.content.decode("utf-8", "replace"))

    def pages(self, client, paths: Iterable[str]) -> None:
        self.api(client, paths)

    def admin(self, client) -> None:
        """Every admin change list and every object's change page (a superuser's view)."""
        from django.contrib import admin
        from django.urls import reverse

        for model in admin.site._registry:
            opts = model._meta
            changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
            paths = [changelist]
            for pk in model.objects.values_list("pk", flat=True)[:50]:
                paths.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[pk]))
            self.api(client, paths)

    def frames(self, source: str, frames: Iterable[Any]) -> None:
        for frame in frames:
            self.add(source, frame)


def _cell(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return value


# -- node uses ---------------------------------------------------------------------------


@dataclass
class Use:
    """What a node use contributes to the scenario workflow."""

    nodes: list[dict[str, Any]]
    mapping: dict[str, Any] | None = None  # the edge mapping from the trigger to the first node
    connectors: list[dict[str, Any]] = field(default_factory=list)  # {"name", "config"} to create


NODE_USES: list[Callable[[Plant, Callable[[str], str]], Use]] = []


def node_use(fn: Callable[[Plant, Callable[[str], str]], Use]) -> Callable:
    """Register a function `(plant, url_for) -> Use`; `url_for(path)` is the echo target."""
    NODE_USES.append(fn)
    return fn
