from django.urls import re_path

from . import consumers

websocket_urlpatterns = [
    re_path(r"^ws/runs/(?P<run_id>[0-9a-fA-F-]{36})/?$", consumers.RunConsumer.as_asgi()),
    re_path(r"^ws/workflows/(?P<workflow_id>[0-9a-fA-F-]{36})/?$", consumers.WorkflowConsumer.as_asgi()),
]
