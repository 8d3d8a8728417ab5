"""Writes for credentials and their resolution (decryption) with an audit trail."""
from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.utils import timezone

from .models import Credential, CredentialAccess

CREDENTIAL_REF = re.compile(r"workspace\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)|workspace\s*\[\s*['\"]([^'\"]+)['\"]\s*\]")


def credential_refs(value: Any) -> set[str]:
    """Names of credentials referenced as `workspace.<name>` anywhere in `value`."""
    found: set[str] = set()
    if isinstance(value, str):
        if "workspace" in value:
            found.update(a or b for a, b in CREDENTIAL_REF.findall(value))
    elif isinstance(value, dict):
        for v in value.values():
            found |= credential_refs(v)
    elif isinstance(value, list):
        for v in value:
            found |= credential_refs(v)
    return found


def credential_value(credential: Credential) -> Any:
    """What `{{ workspace.<name> }}` yields: the single secret when one field is set, else an
    object of fields (e.g. `workspace.crm.username`)."""
    data = {k: v for k, v in credential.data.items() if v not in (None, "")}
    if len(data) == 1:
        return next(iter(data.values()))
    return data


@transaction.atomic
def resolve_credentials(*, workspace_id, names: set[str], purpose: str, user=None, run=None,
                        connector_execution=None) -> dict[str, Any]:
    """Decrypt the named credentials of a workspace, recording one audit row per credential."""
    if not names:
        return {}
    creds = list(Credential.objects.filter(workspace_id=workspace_id, name__in=names))
    now = timezone.now()
    CredentialAccess.objects.bulk_create(
        CredentialAccess(credential=c, user=user, purpose=purpose[:200], run=run,
                         connector_execution=connector_execution)
        for c in creds
    )
    Credential.objects.filter(pk__in=[c.pk for c in creds]).update(last_used_at=now)
    return {c.name: credential_value(c) for c in creds}


def resolve_credentials_for_run(*, run) -> dict[str, Any]:
    document = run.version.document
    names = credential_refs([n.get("config") for n in document["nodes"]] + [e.get("mapping") for e in document["edges"]])
    return resolve_credentials(workspace_id=run.workspace_id, names=names,
                               purpose=f"run {run.pk} of workflow {run.workflow_id}", run=run)
