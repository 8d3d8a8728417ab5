"""Contact change events: a workspace Contact created or updated is reported, with what
changed, to every registered listener (`on_contact_change`); `trigger.contact` starts its
runs this way (`runs.intake.contact`).

Receivers on the Contact model's save signals, connected in ConnectorsConfig.ready(), so
every path that saves a contact counts — the contacts API, the admin, a connector's
response mapping. (A queryset `update()` or `bulk_create()` saves no model and fires no
event.) `pre_save` reads the stored row (locked when the save runs in a transaction) so the
change is computed against what was really there; `post_save` calls the listeners in the
saving transaction: start_run only enqueues on commit, so a rolled-back save starts
nothing and a committed one never loses its run."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from django.db import transaction

from .contacts import CONTACT_FIELDS
from .models import Contact

_PREVIOUS = "_contact_event_previous"
_listeners: list[Callable[..., Any]] = []


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


def on_contact_change(listener: Callable[..., Any]) -> Callable[..., Any]:
    """Register `listener(contact=, event=, changed=, previous=)`, called in the saving
    transaction for every created or changed contact (the runs app starts contact triggers
    this way, from its `ready()`: a lower app never imports a higher one)."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


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
    for listener in list(_listeners):
        listener(contact=instance, event=event, changed=changed, previous=old)


def connect() -> None:
    from django.db.models.signals import post_save, pre_save

    pre_save.connect(remember_previous, sender=Contact, dispatch_uid="contact_events.pre_save")
    post_save.connect(contact_saved, sender=Contact, dispatch_uid="contact_events.post_save")
