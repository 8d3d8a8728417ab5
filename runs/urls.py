"""Public trigger pages outside the API: hosted forms at `/forms/<token>`."""

from django.urls import path

from . import pages
from .intake import form as forms

urlpatterns = [
    path("runs", pages.executions_page, name="executions"),
    path("runs/", pages.executions_page),
    path("runs/<uuid:pk>", pages.run_page, name="run-page"),
    path("runs/<uuid:pk>/", pages.run_page),
    path("forms/<str:token>", forms.form_page, name="hosted-form"),
    path("forms/<str:token>/", forms.form_page),
    path("forms/<str:token>/thanks", forms.thanks_page, name="hosted-form-thanks"),
    path("forms/<str:token>/thanks/", forms.thanks_page),
]
