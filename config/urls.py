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

handler404 = "config.urls.not_found"
handler500 = "config.urls.server_error"


def not_found(request, exception=None):
    if request.path.startswith("/api/") or request.path.startswith("/hooks/"):
        return api_errors.json_not_found(request, exception)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/") or request.path.startswith("/hooks/"):
        return api_errors.json_server_error(request)
    from django.views.defaults import server_error as html_server_error

    return html_server_error(request)
