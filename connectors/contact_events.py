"""`trigger.contact`: a workspace Contact created or updated starts a live run of every
active workflow of that workspace whose active version has a matching contact trigger.

Receivers on the Contact model's save signals, connected in ConnectorsConfig.ready(), so
every path that saves a contact counts — the contacts API, the admin, a connector's
response mapping. (A queryset `update()` or `bulk_create()` saves no model and fires no
event.) `pre_save` reads the stored row (locked when the save runs in a transaction) so the
change is computed against what was really there; `post_save` starts the runs in the
saving transaction: start_run only enqueues on commit, so a rolled-back save starts
nothing and a committed one never loses its run."""

from __future__ import annotations

import copy
import logging
from typing import Any

from django.db import transaction

from .contacts import CONTACT_FIELDS, contact_representation
from .models import Contact

logger = logging.getLogger("switchyard.triggers")

_PREVIOUS = "_contact_event_previous"


def _snapshot(contact: Contact) -> dict[str, Any]:
    return {field: copy.deepcopy(getattr(contact, field)) for field in CONTACT_FIELDS}


def _is_set(value: Any) -> bool:
    return value not in (None, "", [], {})


def changes_between(previous: dict[str, Any], current: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """(changed field names, {field: old value}); a changed `data` also lists each changed
    key as `data.<key>` (absent keys are None)."""
    changed: list[str] = []
    old: dict[str, Any] = {}
    for field in CONTACT_FIELDS:
        if previous.get(field) == current.get(field):
            continue
        changed.append(field)
        old[field] = previous.get(field)
        if field == "data":
            before = previous.get("data") if isinstance(previous.get("data"), dict) else {}
            after = current.get("data") if isinstance(current.get("data"), dict) else {}
            for key in sorted(set(before) | set(after), key=str):
                if before.get(key) != after.get(key) or (key in before) != (key in after):
                    changed.append(f"data.{key}")
                    old[f"data.{key}"] = before.get(key)
    return changed, old


def filter_reason(config: dict, event: str, contact: dict, changed: list[str]) -> str | None:
    """Why the trigger leaves this event out, or None when it should start a run."""
    if event not in (config.get("events") or ["created", "updated"]):
        return f"{event} events are not selected"
    tags = config.get("tags")
    if tags:
        have = {str(t).lower() for t in contact["tags"]}
        if not any(t.lower() in have for t in tags):
            return "the contact carries none of the trigger's tags"
    fields = config.get("fields")
    if fields and event == "updated" and not any(f in changed for f in fields):
        return "none of the trigger's fields changed"
    return None


def start_contact_runs(*, contact: Contact, event: str, changed: list[str], previous: dict[str, Any]) -> list:
    """Start a live run for each matching contact trigger of the contact's workspace."""
    from runs import services
    from workflows.models import Workflow, WorkflowStatus

    represented = contact_representation(contact)
    payload = {"event": event, "contact": represented, "changed": changed, "previous": previous}
    runs = []
    workflows = (
        Workflow.objects.filter(
            workspace_id=contact.workspace_id, status=WorkflowStatus.ACTIVE, active_version__isnull=False
        )
        .select_related("active_version")
        .order_by("created_at")
    )
    with transaction.atomic():
        for workflow in workflows:
            for node in workflow.active_version.document["nodes"]:
                if node["type"] != "trigger.contact":
                    continue
                if filter_reason(node.get("config") or {}, event, represented, changed):
                    continue
                try:
                    runs.append(
                        services.start_run(
                            workflow=workflow,
                            input=copy.deepcopy(payload),
                            mode="live",
                            trigger_node=node["id"],
                            trigger_type="trigger.contact",
                            version=workflow.active_version,
                            enforce_daily_limit=True,
                        )
                    )
                except services.RunRefused as exc:  # over max_runs_per_day: this workflow sits it out
                    logger.warning(
                        "contact %s %s: workflow %s not started: %s",
                        contact.pk,
                        event,
                        workflow.pk,
                        exc.message,
                    )
    return runs


def remember_previous(sender, instance: Contact, raw: bool = False, **kwargs) -> None:
    """pre_save: keep the stored row's fields on the instance for post_save to compare."""
    if raw:
        return
    previous = None
    if instance.pk is not None and not instance._state.adding:
        rows = Contact.objects.filter(pk=instance.pk)
        if transaction.get_connection(kwargs.get("using") or "default").in_atomic_block:
            rows = rows.select_for_update()
        previous = rows.values(*CONTACT_FIELDS).first()
    setattr(instance, _PREVIOUS, previous)


def contact_saved(sender, instance: Contact, created: bool, raw: bool = False, **kwargs) -> None:
    """post_save: work out what changed and start the matching runs."""
    if raw:
        return
    previous = instance.__dict__.pop(_PREVIOUS, None)
    current = _snapshot(instance)
    if created or previous is None:
        event, changed, old = "created", [f for f in CONTACT_FIELDS if _is_set(current[f])], {}
    else:
        event = "updated"
        changed, old = changes_between(previous, current)
        if not changed:
            return
    start_contact_runs(contact=instance, event=event, changed=changed, previous=old)


def connect() -> None:
    from django.db.models.signals import post_save, pre_save

    pre_save.connect(remember_previous, sender=Contact, dispatch_uid="contact_events.pre_save")
    post_save.connect(contact_saved, sender=Contact, dispatch_uid="contact_events.post_save")
