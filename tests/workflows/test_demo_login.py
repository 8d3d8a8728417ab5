"""The demo login: opt-out-able, created once (never re-promoted, a changed password kept), and
refused by `serve` beyond loopback with DEBUG off while it has the published password."""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from workflows.demo_login import is_loopback, serve_refusal
from workflows.models import Workflow

pytestmark = pytest.mark.django_db


def load_demo() -> str:
    from io import StringIO

    out = StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


def demo():
    return get_user_model().objects.get(username="demo")


def test_demo_user_false_creates_no_login_and_no_workflows(settings):
    settings.DEMO_USER = False
    out = load_demo()
    assert "DEMO_USER=false" in out
    assert not get_user_model().objects.filter(username="demo").exists()
    assert not Workflow.objects.exists()


def test_first_start_creates_the_demo_superuser_with_the_demo_password():
    out = load_demo()
    user = demo()
    assert user.is_superuser and user.is_staff
    assert user.check_password(settings.DEMO_PASSWORD)
    assert settings.DEMO_PASSWORD in out


def test_a_changed_password_is_never_reset_nor_printed():
    load_demo()
    user = demo()
    user.set_password("my own secret 123")
    user.save()
    out = load_demo()
    assert demo().check_password("my own secret 123")
    assert settings.DEMO_PASSWORD not in out
    assert "the password you set" in out


def test_a_demoted_demo_user_is_not_promoted_again():
    load_demo()
    get_user_model().objects.filter(username="demo").update(is_superuser=False, is_staff=False)
    load_demo()
    assert not demo().is_superuser and not demo().is_staff


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"])
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com"])
def test_other_hosts_are_not_loopback(host):
    assert not is_loopback(host)


def test_serve_refuses_a_public_host_with_the_published_password(settings):
    settings.DEBUG = False
    load_demo()
    with pytest.raises(CommandError, match="published demo password"):
        call_command("serve", "--host", "0.0.0.0", "--port", "0")
    assert serve_refusal("127.0.0.1") is None
    settings.DEBUG = True
    assert serve_refusal("0.0.0.0") is None


def test_serve_allows_a_public_host_once_the_password_changed_or_the_user_is_gone(settings):
    settings.DEBUG = False
    load_demo()
    user = demo()
    user.set_password("a changed password 42")
    user.save()
    assert serve_refusal("0.0.0.0") is None
    user.delete()
    assert serve_refusal("0.0.0.0") is None
