"""Base URLs saved before secrets were refused there are cleaned by a data migration: no
password or credential-named query parameter stays stored in plain text, and the connection
says what was removed and where the secret goes."""

from importlib import import_module

import pytest
from django.apps import apps

from providers.models import ProviderConnection
from workflows.services import ensure_personal_workspace

from .conftest import credential

pytestmark = pytest.mark.django_db

migration = import_module("providers.migrations.0004_clean_base_url_secrets")


def test_stored_base_url_secrets_are_removed_and_the_connection_says_why(alice, api):
    workspace = ensure_personal_workspace(user=alice)
    saved = {  # as stored before the rule, bypassing the API's check
        "pw": "https://me:s3cret-Pw@n8n.example/api",
        "query": "https://n8n.example/api?x=1&api_key=s3cret-Key&access_token=s3cret-Tok#top",
        "both": "https://:s3cret-Pw@n8n.example?api_key=s3cret-Key",
        "clean": "https://n8n.example/api?page=2",
    }
    for name, url in saved.items():
        ProviderConnection.objects.create(workspace=workspace, name=name, provider="n8n", base_url=url)

    migration.clean_stored(apps, None)

    stored = {c.name: c for c in ProviderConnection.objects.all()}
    assert stored["pw"].base_url == "https://me@n8n.example/api"
    assert stored["query"].base_url == "https://n8n.example/api?x=1#top"
    assert stored["both"].base_url == "https://n8n.example"
    for name in ("pw", "query", "both"):
        assert stored[name].status == "error"
        assert "credential" in stored[name].last_error and "s3cret" not in stored[name].last_error
    assert "a password" in stored["pw"].last_error
    assert "access_token, api_key" in stored["query"].last_error
    assert stored["clean"].base_url == saved["clean"] and stored["clean"].status == "untested"
    assert "s3cret" not in str(list(ProviderConnection.objects.values_list("base_url", flat=True)))
    # what the API shows is the cleaned URL, and the connection can be given its credential
    listed = api.get("/api/v1/providers/connections/").json()
    assert "s3cret" not in str(listed)
    credential(api, "n8n_key", {"api_key": "s3cret-Key"})
    res = api.patch(
        f"/api/v1/providers/connections/{stored['query'].pk}/", {"credential": "n8n_key"}, format="json"
    )
    assert res.status_code == 200, res.content


@pytest.mark.parametrize(
    "base_url", ["https://me:s3cret-Pw@n8n.example", "https://n8n.example/?api_key=s3cret-Key"]
)
def test_the_admin_form_refuses_a_base_url_carrying_a_secret_like_the_api(alice, base_url):
    from providers.admin import ProviderConnectionForm

    workspace = ensure_personal_workspace(user=alice)
    form = ProviderConnectionForm(
        data={
            "workspace": workspace.pk,
            "name": "x",
            "provider": "n8n",
            "base_url": base_url,
            "settings": "{}",
        }
    )
    assert not form.is_valid()
    assert "base_url" in form.errors
