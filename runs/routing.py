from django.urls import re_path

from config.api_params import UUID_PATTERN

from . import consumers

websocket_urlpatterns = [
    re_path(rf"^ws/runs/(?P<run_id>{UUID_PATTERN})/?$", consumers.RunConsumer.as_asgi()),
    re_path(rf"^ws/workflows/(?P<workflow_id>{UUID_PATTERN})/?$", consumers.WorkflowConsumer.as_asgi()),
    # Anything else (an id that is not a UUID, an unknown path) is refused with 4404 rather
    # than left to the router, which would raise and drop the connection.
    re_path(r"", consumers.NotFoundConsumer.as_asgi()),
]
