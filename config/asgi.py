"""HTTP + websocket entry point (daphne)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from config.asgi_hooks import HookRequests  # noqa: E402
from config.asgi_limits import BodyLimit  # noqa: E402
from config.asgi_threads import ReusedRequestThreads  # noqa: E402
from runs.routing import websocket_urlpatterns  # noqa: E402
from runs.ws_auth import TokenOrSessionAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": ReusedRequestThreads(
            BodyLimit(HookRequests(django_asgi_app), settings.MAX_REQUEST_BODY_BYTES),
            keep=settings.WEB_REQUEST_THREADS,
        ),
        "websocket": AllowedHostsOriginValidator(
            TokenOrSessionAuthMiddleware(URLRouter(websocket_urlpatterns))
        ),
    }
)
