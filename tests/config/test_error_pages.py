"""Error answers keep the app's look on pages and the API's JSON shape on API addresses: a
form sent with an expired CSRF token, a page the caller's role does not allow, a malformed
request."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import SuspiciousOperation
from django.test import Client
from django.urls import path

from config import urls as app_urls
from tests.connectors.factories import workspace_of
from workflows.services import add_member


def styled(res, code: int) -> str:
    html = res.content.decode()
    assert res.status_code == code and res["Content-Type"].startswith("text/html")
    assert "css/app.css" in html and "favicon.svg" in html and 'class="topbar"' in html
    assert f'<p class="code">{code}</p>' in html and 'data-testid="error-page"' in html
    return html


def test_a_form_sent_with_an_expired_csrf_token_gets_the_apps_page_and_nothing_is_saved(alice):
    web = Client(enforce_csrf_checks=True)
    web.force_login(alice)
    res = web.post("/credentials/", {"name": "stripe", "kind": "bearer", "field_token": "t"})
    html = styled(res, 403)
    assert "This form has expired" in html and "reload the page" in html
    assert "CSRF verification failed" not in html  # Django's own page is not shown
    assert ">Workflows</a>" in html  # still signed in: the top bar's links are there
    from connectors.models import Credential

    assert not Credential.objects.exists()


def test_the_login_form_with_an_expired_token_is_styled_for_a_signed_out_visitor(db):
    res = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "a", "password": "b"})
    html = styled(res, 403)
    assert "This form has expired" in html and ">Workflows</a>" not in html


def test_a_page_the_role_does_not_allow_says_why_in_the_apps_look(alice, bob):
    add_member(workspace=workspace_of(alice), user=bob, role="viewer")
    web = Client()
    web.force_login(bob)
    html = styled(web.get("/connectors/new"), 403)
    assert "read-only" in html and "You cannot do this here" in html


def raise_suspicious(request):
    raise SuspiciousOperation("a malformed request")


urlpatterns = [
    *app_urls.urlpatterns,
    path("broken/page", raise_suspicious),
    path("api/v1/broken", raise_suspicious),
]
handler400 = app_urls.handler400
handler403 = app_urls.handler403
handler404 = app_urls.handler404
handler500 = app_urls.handler500


@pytest.mark.urls("tests.config.test_error_pages")
def test_a_malformed_request_is_a_styled_400_on_pages_and_json_on_the_api(client, alice):
    client.force_login(alice)
    html = styled(client.get("/broken/page"), 400)
    assert "could not be understood" in html
    res = client.get("/api/v1/broken")
    assert res.status_code == 400 and res.json()["error"]["code"] == "BAD_REQUEST"


@pytest.mark.urls("tests.config.test_error_pages")
def test_csrf_and_permission_failures_on_api_addresses_answer_json(rf):
    from django.core.exceptions import PermissionDenied

    request = rf.post("/api/v1/anything")
    res = app_urls.csrf_failure(request, reason="CSRF cookie not set.")
    assert res.status_code == 403 and res["Content-Type"] == "application/json"
    assert json.loads(res.content)["error"]["code"] == "PERMISSION_DENIED"
    res = app_urls.forbidden(rf.get("/hooks/token"), PermissionDenied())
    assert res.status_code == 403 and json.loads(res.content)["error"]["code"] == "PERMISSION_DENIED"
