"""The builder's pages are served by Django from the committed bundle (no Node needed)."""

from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db

STATIC = Path(settings.BASE_DIR) / "static"


def test_the_bundle_the_pages_load_is_committed():
    assert (STATIC / "bundle" / "builder.js").stat().st_size > 1000
    assert (STATIC / "bundle" / "builder.css").exists()


def test_new_workflow_page_boots_the_builder_with_templates(client, alice):
    client.force_login(alice)
    res = client.get("/workflows/new")
    assert res.status_code == 200
    html = res.content.decode()
    assert "bundle/builder.js" in html and 'id="builder-root"' in html
    assert 'id="builder-boot"' in html and "Order triage" in html  # a demo template
    assert client.get("/workflows/new/").status_code == 200


def test_edit_page_is_scoped_to_the_users_workspaces(client, api, alice, bob, sample_document):
    wf = api.post("/api/v1/workflows/", sample_document, format="json").json()
    client.force_login(alice)
    res = client.get(f"/workflows/{wf['id']}/edit")
    assert res.status_code == 200 and wf["id"] in res.content.decode()
    client.force_login(bob)
    assert client.get(f"/workflows/{wf['id']}/edit").status_code == 404


def test_pages_need_a_login(client):
    res = client.get("/workflows/new")
    assert res.status_code == 302 and "/accounts/login/" in res.url


def test_unknown_page_is_a_styled_404(client, alice):
    client.force_login(alice)
    res = client.get("/no/such/page")
    assert res.status_code == 404
    html = res.content.decode()
    assert "This page does not exist" in html and "css/app.css" in html and "favicon.svg" in html


def test_swagger_ui_is_served_from_our_own_static_files(client, alice):
    client.force_login(alice)
    res = client.get("/api/docs/")
    assert res.status_code == 200
    html = res.content.decode()
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200
    try:  # a file response streams: read it, then close it as a server would
        body = b"".join(asset.streaming_content)
    finally:
        asset.close()
    assert len(body) > 100_000 and b"SwaggerUIBundle" in body
