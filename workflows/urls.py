from django.contrib.auth import views as auth_views
from django.urls import path

from . import pages

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", pages.home, name="home"),
    path("workflows/<uuid:pk>/", pages.workflow_detail, name="workflow-detail"),
]
