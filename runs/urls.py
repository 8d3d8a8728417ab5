"""Public trigger pages outside the API (hosted forms)."""
from django.urls import path  # noqa: F401

urlpatterns: list = []
