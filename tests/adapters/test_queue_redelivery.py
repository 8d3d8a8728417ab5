"""`trigger.queue` with messages that carry no id (AMQP and MQTT senders need not set one):
a consumer killed after storing the run, before acknowledging, leaves the message to be
delivered again; the next consumer recognises it (content key + the broker's redelivered
flag) and starts no second run. Identical messages that are really two still make two runs,
and a consumer killed before storing loses nothing."""

from __future__ import annotations

import hashlib

import paho.mqtt.client as paho
import pika
import pytest

from connectors.adapters.base import Limits
from connectors.adapters.host import connection_settings
from connectors.adapters.registry import adapters
from runs.intake.queue import QueueConsumer, QueueTriggerListener
from runs.models import WorkflowRun

from .helpers import make_credential, unique
from .test_queue_trigger import AMQP_URL, MQTT_URL, _workflow

pytestmark = pytest.mark.usefixtures("inline_queue")


class Harness:
    """One active trigger.queue workflow and the pieces of its consumer, driven step by step."""

    def __init__(self, api, url, destination):
        cred = unique("q")
        make_credential(api, cred, {"url": url})
        self.workflow_id = _workflow(api, cred, destination)
        res = api.post(f"/api/v1/workflows/{self.workflow_id}/activate")
        assert res.status_code == 200, res.content
        [(key, (workspace_id, node))] = QueueTriggerListener().wanted().items()
        self.consumer = QueueConsumer(key, workspace_id, node)
        self.settings = connection_settings(workspace_id=workspace_id, name=cred, purpose="test")
        self.adapter = adapters.adapter_for("mq", self.settings.scheme)
        self.destination = destination

    def open(self):
        return self.consumer._connect(self.adapter, self.settings, Limits(timeout_s=10, allow_private=True))

    def receive(self, connection, wait_s=5.0):
        return self.adapter.receive(connection, self.destination, "switchyard", wait_s)

    def runs(self):
        return list(WorkflowRun.objects.filter(workflow_id=self.workflow_id).order_by("created_at"))


@pytest.fixture
def amqp_queue(request):
    queue = unique("orders")
    conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", 5672))
    channel = conn.channel()
    channel.queue_declare(queue)

    def cleanup():
        channel.queue_delete(queue)
        conn.close()

    request.addfinalizer(cleanup)
    return queue, lambda body: channel.basic_publish("", queue, body, pika.BasicProperties())


def kill_amqp(connection):
    """The consumer's process is gone: its socket drops without a word; the broker requeues
    what it had not acknowledged."""
    connection.connection._impl._transport._sock.close()


def test_amqp_message_without_id_redelivered_after_a_killed_consumer_starts_one_run(api, amqp_queue):
    queue, publish = amqp_queue
    harness = Harness(api, AMQP_URL, queue)
    publish(b'{"order": 1}')
    first = harness.open()
    delivery = harness.receive(first)
    assert delivery.message_id == "" and not delivery.redelivered
    harness.consumer._store(delivery)  # the run is stored ...
    kill_amqp(first)  # ... and the consumer dies before acknowledging
    assert len(harness.runs()) == 1

    second = harness.open()
    again = harness.receive(second)
    assert again is not None and again.redelivered and again.content_key == delivery.content_key
    harness.consumer.take(again)
    [run] = harness.runs()
    assert run.idempotency_key.split(":")[-2] == "acked"
    assert harness.receive(second, 0.5) is None  # acknowledged this time

    # Two identical messages are two messages: two runs.
    publish(b'{"order": 1}')
    publish(b'{"order": 1}')
    for _ in range(2):
        harness.consumer.take(harness.receive(second))
    assert len(harness.runs()) == 3

    # Killed before storing: the redelivery starts the run (nothing lost).
    publish(b'{"order": 2}')
    lost = harness.receive(second)
    assert lost is not None
    kill_amqp(second)
    third = harness.open()
    redelivered = harness.receive(third)
    assert redelivered.redelivered
    harness.consumer.take(redelivered)
    runs = harness.runs()
    assert len(runs) == 4 and runs[-1].input["message"] == {"order": 2}
    harness.adapter.close(third)


def _purge_mqtt_session(consumer_id):
    client = paho.Client(
        paho.CallbackAPIVersion.VERSION2,
        client_id="switchyard-" + hashlib.sha256(consumer_id.encode()).hexdigest()[:20],
        protocol=paho.MQTTv5,
    )
    client.connect("127.0.0.1", 1883, clean_start=True)
    client.disconnect()


def kill_mqtt(connection):
    connection.client.loop_stop()
    connection.client.socket().close()


def test_mqtt_qos1_message_redelivered_after_a_killed_consumer_starts_one_run(api):
    topic = unique("orders")
    harness = Harness(api, MQTT_URL, topic)
    publisher = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    publisher.connect("127.0.0.1", 1883)
    publisher.loop_start()
    consumer_id = f"{harness.consumer.key.workflow_id}:{harness.consumer.key.node_id}:switchyard"
    try:
        first = harness.open()
        assert harness.receive(first, 0.3) is None  # subscribed at QoS 1 in a lasting session
        publisher.publish(topic, b'{"order": 7}', qos=1).wait_for_publish(10)
        delivery = harness.receive(first)
        assert delivery.message == {"order": 7} and not delivery.redelivered
        harness.consumer._store(delivery)
        kill_mqtt(first)  # gone before the PUBACK

        # Published while no consumer runs: the session keeps it.
        publisher.publish(topic, b'{"order": 8}', qos=1).wait_for_publish(10)
        second = harness.open()
        again = harness.receive(second)
        assert again.redelivered and again.message == {"order": 7}
        harness.consumer.take(again)
        later = harness.receive(second)
        assert later.message == {"order": 8}
        harness.consumer.take(later)
        runs = harness.runs()
        assert [r.input["message"] for r in runs] == [{"order": 7}, {"order": 8}]
        assert harness.receive(second, 0.5) is None
        harness.adapter.close(second)
        third = harness.open()  # both were acknowledged: nothing comes back
        assert harness.receive(third, 0.5) is None
        harness.adapter.close(third)
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        _purge_mqtt_session(consumer_id)
