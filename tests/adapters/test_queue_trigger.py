"""`trigger.queue`: a run per message, started by the listener for active workflows only,
on Redis streams, RabbitMQ, NATS JetStream and MQTT (the kill test with real processes is in tests/e2e)."""

from __future__ import annotations

import asyncio
import time

import nats
import paho.mqtt.client as paho
import pika
import pytest
import redis

from runs.intake.queue import QueueTriggerListener
from runs.models import WorkflowRun

from .helpers import make_credential, unique

pytestmark = pytest.mark.usefixtures("inline_queue")
REDIS_URL = "redis://127.0.0.1:6379/6"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
MQTT_URL = "mqtt://127.0.0.1:1883"


def _workflow(api, cred, destination):
    doc = {
        "schema": "switchyard.workflow/1",
        "name": unique("queued"),
        "nodes": [
            {
                "id": "inbox",
                "type": "trigger.queue",
                "config": {"credential": cred, "destination": destination},
            },
            {
                "id": "shape",
                "type": "data.transform",
                "config": {"set": {"order": "{{ input.message.order }}"}},
            },
        ],
        "edges": [{"source": "inbox", "target": "shape"}],
    }
    res = api.post("/api/v1/workflows/", doc, format="json")
    assert res.status_code == 201, res.content
    return res.json()["id"]


def _wait_for_runs(workflow_id, count, timeout_s=20):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = list(
            WorkflowRun.objects.filter(workflow_id=workflow_id, status="completed").order_by("created_at")
        )
        if len(runs) >= count:
            return runs
        time.sleep(0.1)
    raise AssertionError(
        f"{count} runs expected, {WorkflowRun.objects.filter(workflow_id=workflow_id).count()} stored"
    )


@pytest.fixture
def broker(request):
    """(kind, credential url, destination, publish(message))"""
    kind = request.param
    if kind == "redis":
        stream = unique("orders")
        client = redis.Redis.from_url(REDIS_URL)
        request.addfinalizer(lambda: client.delete(stream))
        return kind, REDIS_URL, stream, lambda m: client.xadd(stream, {"message": m})
    if kind == "nats":
        stream = unique("ORDERS")
        subject = f"{stream}.created"

        async def admin(action):
            client = await nats.connect("nats://127.0.0.1:4222")
            js = client.jetstream()
            await action(js)
            await client.close()

        asyncio.run(admin(lambda js: js.add_stream(name=stream, subjects=[subject])))
        request.addfinalizer(lambda: asyncio.run(admin(lambda js: js.delete_stream(stream))))

        def publish_nats(message):
            headers = {"Nats-Msg-Id": unique("m")}
            asyncio.run(admin(lambda js: js.publish(subject, message, headers=headers)))

        return kind, "nats://127.0.0.1:4222", subject, publish_nats
    if kind == "mqtt":
        topic = unique("orders")
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        client.connect("127.0.0.1", 1883)
        client.loop_start()
        request.addfinalizer(lambda: (client.disconnect(), client.loop_stop()))

        def publish_mqtt(message):  # QoS 1 and no message id: the content key tells them apart
            client.publish(topic, message, qos=1).wait_for_publish(10)

        return kind, MQTT_URL, topic, publish_mqtt
    queue = unique("orders")
    conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", 5672))
    channel = conn.channel()
    channel.queue_declare(queue)

    def publish(message):
        props = pika.BasicProperties(message_id=unique("m"))
        channel.basic_publish("", queue, message, props)

    def cleanup():
        channel.queue_delete(queue)
        conn.close()

    request.addfinalizer(cleanup)
    return kind, AMQP_URL, queue, publish


@pytest.mark.parametrize("broker", ["redis", "amqp", "nats", "mqtt"], indirect=True)
def test_each_message_starts_one_run_while_the_workflow_is_active(api, broker):
    kind, url, destination, publish = broker
    cred = unique(kind)
    make_credential(api, cred, {"url": url, **({"jetstream": "true"} if kind == "nats" else {})})
    workflow_id = _workflow(api, cred, destination)
    listener = QueueTriggerListener()
    listener.reconcile()
    assert listener.consumers == {}  # inactive: nothing consumed
    res = api.post(f"/api/v1/workflows/{workflow_id}/activate")
    assert res.status_code == 200, res.content
    try:
        listener.reconcile()
        assert len(listener.consumers) == 1
        [consumer] = listener.consumers.values()
        assert consumer.receiving.wait(20)  # subscribed (an MQTT topic keeps nothing before)
        for n in (1, 2, 3):
            publish(f'{{"order": {n}}}'.encode())
        runs = _wait_for_runs(workflow_id, 3)
        assert sorted(r.output["order"] for r in runs) == [1, 2, 3]
        assert all(r.trigger_type == "trigger.queue" and r.input["destination"] == destination for r in runs)
        assert all(r.input["message_id"] for r in runs) or kind in ("amqp", "mqtt")
        res = api.post(f"/api/v1/workflows/{workflow_id}/deactivate")
        assert res.status_code == 200
        listener.reconcile()
        assert listener.consumers == {}
        time.sleep(1.5)  # a stopped consumer finishes its last wait
        publish(b'{"order": 4}')
        time.sleep(1.5)
        assert WorkflowRun.objects.filter(workflow_id=workflow_id).count() == 3
    finally:
        listener.stop_all()


def test_activation_checks_the_queue_credential(api):
    workflow_id = _workflow(api, "missing_cred", "orders")
    res = api.post(f"/api/v1/workflows/{workflow_id}/activate")
    assert res.status_code == 400
    errors = res.json()["error"]["details"]["errors"]
    assert {"node": "inbox", "field": "config.credential"} in [
        {"node": e["node"], "field": e["field"]} for e in errors
    ]
    database = unique("pg")
    make_credential(api, database, {"url": "postgresql://postgres@127.0.0.1:5432/test"})
    workflow_id = _workflow(api, database, "orders")
    res = api.post(f"/api/v1/workflows/{workflow_id}/activate")
    assert res.status_code == 400 and "mqtt://" in str(res.json())
