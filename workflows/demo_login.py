"""The demo login (`demo` / the published password) that `make run` offers on a fresh install.

It is a convenience for trying the product on one's own machine, so: it can be turned off
(`DEMO_USER=false`), it is created once (a password the user changed is never reset, a user an
admin demoted is never promoted again), and `serve` refuses to listen beyond loopback with
DEBUG off while the demo user still has the published password."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.contrib.auth import get_user_model

USERNAME = "demo"


def demo_user():
    return get_user_model().objects.filter(username=USERNAME).first()


def ensure_demo_user():
    """The demo user: created (superuser, the configured password) only if missing."""
    user = demo_user()
    if user is None:
        user = get_user_model().objects.create_superuser(
            username=USERNAME, email="demo@example.com", password=settings.DEMO_PASSWORD
        )
    return user


def has_published_password(user) -> bool:
    return bool(user and user.is_active and user.check_password(settings.PUBLISHED_DEMO_PASSWORD))


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_refusal(host: str) -> str | None:
    """Why `serve` must not start on `host`, or None."""
    if settings.DEBUG or is_loopback(host):
        return None
    if not has_published_password(demo_user()):
        return None
    return (
        f"Refusing to serve on {host}: the '{USERNAME}' login still has the published demo password "
        f"and DEBUG is off. Change it (python manage.py changepassword {USERNAME}), or deactivate or "
        "delete that user and start with DEMO_USER=false, or serve on 127.0.0.1."
    )
