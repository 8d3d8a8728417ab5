"""Writes for workspace contacts, and their one representation (API and trigger payloads).

Each write is one transaction: a `trigger.contact` run started by the save (see
contact_events) commits with the contact or not at all."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from config.errors import ApplicationError

from .models import Contact

CONTACT_FIELDS = ("name", "email", "phone", "tags", "data")


class ContactRefused(ApplicationError):
    """A contact write was refused (bad field values)."""


def contact_representation(contact: Contact) -> dict:
    return {
        "id": str(contact.id),
        "workspace": str(contact.workspace_id),
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "tags": list(contact.tags or []),
        "data": dict(contact.data or {}),
        "created_at": contact.created_at.isoformat() if contact.created_at else None,
        "updated_at": contact.updated_at.isoformat() if contact.updated_at else None,
    }


def _clean_tags(tags: Any) -> list[str]:
    if not isinstance(tags, list) or any(not isinstance(t, str) or not t.strip() for t in tags):
        raise ContactRefused(
            "VALIDATION_ERROR",
            "tags must be a list of non-empty strings.",
            details={"tags": ["tags must be a list of non-empty strings."]},
        )
    return list(dict.fromkeys(t.strip() for t in tags))


def _save(contact: Contact) -> Contact:
    if contact.data is None or not isinstance(contact.data, dict):
        raise ContactRefused(
            "VALIDATION_ERROR", "data must be an object.", details={"data": ["data must be an object."]}
        )
    if not (contact.name or contact.email or contact.phone):
        message = "A contact needs a name, an email or a phone."
        raise ContactRefused("VALIDATION_ERROR", message, details={"name": [message]})
    try:
        contact.full_clean(exclude=["workspace"])
    except ValidationError as exc:
        details = {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
        field, messages = next(iter(details.items()))
        raise ContactRefused("VALIDATION_ERROR", f"{field}: {messages[0]}", details=details) from None
    contact.save()
    return contact


@transaction.atomic
def create_contact(
    *,
    workspace,
    name: str = "",
    email: str = "",
    phone: str = "",
    tags: list | None = None,
    data: dict | None = None,
) -> Contact:
    """Store a new contact in `workspace` (starting the workspace's contact triggers)."""
    contact = Contact(
        workspace=workspace,
        name=name,
        email=email,
        phone=phone,
        tags=_clean_tags(tags if tags is not None else []),
        data=data if data is not None else {},
    )
    return _save(contact)


@transaction.atomic
def update_contact(*, contact: Contact, merge_data: bool = False, **changes: Any) -> Contact:
    """Change the given fields. With `merge_data`, `data` is merged key by key (a null value
    removes the key) instead of replaced."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    for field, value in changes.items():
        if field not in CONTACT_FIELDS:
            raise ValueError(f"unknown contact field {field!r}")
        if field == "tags":
            value = _clean_tags(value)
        elif field == "data" and merge_data and isinstance(value, dict):
            merged = dict(contact.data or {})
            for key, item in value.items():
                if item is None:
                    merged.pop(key, None)
                else:
                    merged[key] = item
            value = merged
        setattr(contact, field, value)
    return _save(contact)


@transaction.atomic
def delete_contact(*, contact: Contact) -> None:
    contact.delete()
