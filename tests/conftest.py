"""Shared fixtures: users with tokens, API clients, and a sample workflow document."""

import copy

import pytest

from tests.documents import SPEC_EXAMPLE


@pytest.fixture
def echo_server():
    """A real HTTP API on 127.0.0.1 whose GET /echo answers with the request it received."""
    from tests.connectors.api_server import ApiServer
    from tests.connectors.factories import echo

    server = ApiServer()
    server.route("GET", "/echo", echo)
    yield server
    server.close()


@pytest.fixture
def sample_document():
    return copy.deepcopy(SPEC_EXAMPLE)


def make_user(username):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username=username, password="pw-" + username)


def client_for(user):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def alice(db):
    return make_user("alice")


@pytest.fixture
def bob(db):
    return make_user("bob")


@pytest.fixture
def api(alice):
    return client_for(alice)


@pytest.fixture
def bob_api(bob):
    return client_for(bob)


@pytest.fixture
def inline_queue(transactional_db, settings):
    """Django-Q runs tasks synchronously, at commit, in this process."""
    from django_q.conf import Conf

    old = Conf.SYNC
    Conf.SYNC = True
    settings.ALLOW_PRIVATE_OUTBOUND = True
    from runs.engine_host import scheduler

    scheduler.cache_clear()
    yield
    Conf.SYNC = old
    scheduler.cache_clear()
