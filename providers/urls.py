from django.urls import path

from . import pages

urlpatterns = [
    path("providers/", pages.providers_page, name="providers"),
    path("providers", pages.providers_page),
]
