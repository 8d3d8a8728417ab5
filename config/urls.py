from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from runs import ops
from runs.intake import receive_hook

from . import api_errors

admin.site.site_header = "Switchyard administration"
admin.site.site_title = "Switchyard admin"
admin.site.index_title = "Records"
admin.site.site_url = "/"

# Swagger UI from this server (no CDN), in the app's top bar and colours.
API_DOCS = SpectacularSwaggerView.as_view(
    url_name="schema", template_name="api_docs.html", title="API · Switchyard"
)

urlpatterns = [
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/schema", SpectacularAPIView.as_view()),
    path("api/docs/", API_DOCS, name="api-docs"),
    path("api/docs", API_DOCS),
    path("hooks/<str:token>", receive_hook, name="webhook"),
    path("hooks/<str:token>/", receive_hook),
    path("", include("runs.urls")),
    path("", include("connectors.urls")),
    path("", include("providers.urls")),
    path("", include("workflows.urls")),
]

handler400 = "config.urls.bad_request"
handler403 = "config.urls.forbidden"
handler404 = "config.urls.not_found"
handler500 = "config.urls.server_error"


def _is_api(request) -> bool:
    """API and webhook addresses answer errors in the API's JSON shape, pages in the app's own."""
    return request.path.startswith("/api/") or request.path.startswith("/hooks/")


def bad_request(request, exception=None):
    if _is_api(request):
        return api_errors.json_bad_request(request)
    from django.views.defaults import bad_request as html_bad_request

    return html_bad_request(request, exception)


def forbidden(request, exception=None):
    if _is_api(request):
        return api_errors.json_forbidden(request)
    from django.views.defaults import permission_denied

    return permission_denied(request, exception)


def csrf_failure(request, reason=""):
    """A form sent without a valid CSRF token (CSRF_FAILURE_VIEW): the page in the app's top bar
    and colours, signed-in or not; the reason goes to the log only, as Django does."""
    if _is_api(request):
        return api_errors.json_forbidden(request, "CSRF verification failed: reload the page and try again.")
    from django.shortcuts import render

    return render(request, "403_csrf.html", status=403)


def not_found(request, exception=None):
    if _is_api(request):
        return api_errors.json_not_found(request, exception)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return api_errors.json_server_error(request)
    from django.views.defaults import server_error as html_server_error

    return html_server_error(request)
