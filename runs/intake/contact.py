"""`trigger.contact`: a workspace Contact created or updated starts a live run of every
active workflow of that workspace whose active version has a matching contact trigger.

`connectors.contact_events` reports each change to `start_contact_runs` (registered in
`RunsConfig.ready()`), in the saving transaction: start_run only enqueues on commit, so a
rolled-back save starts nothing and a committed one never loses its run."""

from __future__ import annotations

import copy
import logging
from typing import Any

from django.db import transaction

from connectors.contacts import contact_representation
from connectors.models import Contact
from workflows.models import Workflow, WorkflowStatus

from .. import services

logger = logging.getLogger("switchyard.triggers")


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
