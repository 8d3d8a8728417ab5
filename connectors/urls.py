"""Pages for connectors and credentials (the API lives under /api/v1/). Each page answers
with and without a trailing slash, like the API (APPEND_SLASH is off)."""

from django.urls import path

from . import integration_pages, pages


def _both(route: str, view, name: str) -> list:
    """`route/` (named, what links use) and `route` without the slash."""
    return [path(f"{route}/", view, name=name), path(route, view)]


urlpatterns = [
    *_both("connectors", pages.connector_list, "connector-list"),
    *_both("connectors/new", pages.connector_new, "connector-new"),
    *_both("connectors/<uuid:pk>", pages.connector_detail, "connector-detail"),
    *_both("connectors/<uuid:pk>/delete", pages.connector_delete, "connector-delete"),
    *_both("integrations/health", integration_pages.integration_health_page, "integrations-health-page"),
    *_both("credentials", pages.credential_list, "credential-list"),
    *_both("credentials/<uuid:pk>", pages.credential_detail, "credential-detail"),
    *_both("credentials/<uuid:pk>/delete", pages.credential_delete, "credential-delete"),
]
