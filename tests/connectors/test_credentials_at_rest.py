"""Credential values are encrypted at rest and never shown in the admin."""

import pytest
from django.db import connection

from connectors.models import Credential
from workflows.models import Workspace

pytestmark = pytest.mark.django_db


def test_credential_values_are_encrypted_in_the_database():
    ws = Workspace.objects.create(name="w")
    cred = Credential(workspace=ws, name="stripe", kind="bearer")
    cred.data = {"token": "sk_live_plaintext_value"}
    cred.save()
    with connection.cursor() as cur:
        cur.execute(
            "SELECT encrypted_data FROM connectors_credential WHERE id = %s",
            [cred.pk.hex if connection.vendor == "sqlite" else cred.pk],
        )
        raw = cur.fetchone()[0]
    assert "sk_live_plaintext_value" not in raw and raw
    assert Credential.objects.get(pk=cred.pk).data == {"token": "sk_live_plaintext_value"}


def test_admin_change_page_never_shows_the_secret(admin_client):
    ws = Workspace.objects.create(name="w")
    cred = Credential(workspace=ws, name="stripe", kind="bearer")
    cred.data = {"token": "sk_live_plaintext_value"}
    cred.save()
    page = admin_client.get(f"/admin/connectors/credential/{cred.pk}/change/").content.decode()
    assert "stripe" in page and "sk_live_plaintext_value" not in page and "token" in page
