"""/readyz answers within its time bound even when a dependency accepts connections and
never answers, and names what is down."""

import socket
import threading

import pytest
from channels.layers import channel_layers


@pytest.fixture
def silent_redis():
    """A TCP port that accepts connections (the kernel's backlog) and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    server.close()


def test_readyz_is_bounded_and_names_the_dependencies_that_do_not_answer(client, settings, silent_redis, db):
    settings.READYZ_TIMEOUT_S = 0.5
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "redis": silent_redis}
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [silent_redis]}}
    }
    answers = []
    probe = threading.Thread(target=lambda: answers.append(client.get("/readyz")), daemon=True)
    probe.start()
    probe.join(120)  # unbounded checks would never answer
    assert answers, "/readyz did not answer"
    res = answers[0]
    assert res.status_code == 503
    error = res.json()["error"]
    assert error["code"] == "NOT_READY"
    checks = error["details"]["checks"]
    assert checks["database"]["ok"]
    assert not checks["broker"]["ok"] and not checks["channel_layer"]["ok"]
    assert "broker" in error["message"] and "channel_layer" in error["message"]
    channel_layers.backends = {}


def test_readyz_answers_ready_when_every_dependency_answers(client, db):
    res = client.get("/readyz")
    assert res.status_code == 200, res.content
    assert {name for name, check in res.json()["checks"].items() if check["ok"]} == {
        "database",
        "broker",
        "channel_layer",
    }
