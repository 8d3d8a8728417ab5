from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from . import builder_pages, pages

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", pages.home, name="home"),
    path("workflows/", RedirectView.as_view(pattern_name="home")),  # the list is the home page
    path("workflows", RedirectView.as_view(pattern_name="home")),
    path("workflows/<uuid:pk>/", pages.workflow_detail, name="workflow-detail"),
    path("workflows/new", builder_pages.new_workflow, name="workflow-new"),
    path("workflows/new/", builder_pages.new_workflow),
    path("workflows/<uuid:pk>/edit", builder_pages.edit_workflow, name="workflow-edit"),
    path("workflows/<uuid:pk>/edit/", builder_pages.edit_workflow),
]
