"""Pages for connectors and credentials (the API lives under /api/v1/)."""
from django.urls import path  # noqa: F401

urlpatterns: list = []
