"""Public trigger pages outside the API: hosted forms at `/forms/<token>`."""

from django.urls import path

from . import forms

urlpatterns = [
    path("forms/<str:token>", forms.form_page, name="hosted-form"),
    path("forms/<str:token>/", forms.form_page),
    path("forms/<str:token>/thanks", forms.thanks_page, name="hosted-form-thanks"),
    path("forms/<str:token>/thanks/", forms.thanks_page),
]
