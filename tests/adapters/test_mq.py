"""`mq.publish` / `mq.consume` against RabbitMQ, Mosquitto, NATS (core and JetStream) and Redis
streams running on this machine; every queue, topic, subject and stream is unique per test."""

from __future__ import annotations

import asyncio
import threading
import time

import nats
import paho.mqtt.client as mqtt
import pika
import pytest

from .helpers import make_credential, node_of, run_nodes, unique

pytestmark = pytest.mark.usefixtures("inline_queue")

URLS = {
    "amqp": "amqp://guest:guest@127.0.0.1:5672/",
    "mqtt": "mqtt://127.0.0.1:1883",
    "nats": "nats://127.0.0.1:4222",
    "redis": "redis://127.0.0.1:6379/6",
}


def _credential(api, kind, **extra):
    name = unique(kind)
    make_credential(api, name, {"url": URLS[kind], **extra})
    return name


@pytest.fixture
def amqp_queue():
    name = unique("q")
    conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", 5672))
    conn.channel().queue_declare(name, durable=False, auto_delete=False)
    yield name
    conn.channel().queue_delete(name)
    conn.close()


def _round_trip(api, cred, destination, message, **publish_extra):
    return run_nodes(
        api,
        [
            {
                "id": "pub",
                "type": "mq.publish",
                "config": {
                    "credential": cred,
                    "destination": destination,
                    "message": message,
                    **publish_extra,
                },
            },
            {
                "id": "sub",
                "type": "mq.consume",
                "config": {"credential": cred, "destination": destination, "timeout_s": 5},
            },
        ],
    )


def test_amqp_publish_then_consume_one(api, amqp_queue):
    cred = _credential(api, "amqp")
    run = _round_trip(api, cred, amqp_queue, {"order": 42, "items": ["a", "b"]}, headers={"tenant": "acme"})
    assert run["status"] == "completed", [n["error"] for n in run["nodes"]]
    published = node_of(run, "pub")["output"]
    assert published["destination"] == amqp_queue and len(published["message_id"]) == 32
    assert run["output"]["message"] == {"order": 42, "items": ["a", "b"]}
    assert run["output"]["headers"] == {"tenant": "acme", "message_id": published["message_id"]}


def test_amqp_publish_to_a_missing_queue_fails_and_consume_times_out(api, amqp_queue):
    cred = _credential(api, "amqp")
    run = run_nodes(
        api,
        [
            {
                "id": "pub",
                "type": "mq.publish",
                "config": {"credential": cred, "destination": unique("none"), "message": "x"},
            },
            {
                "id": "sub",
                "type": "mq.consume",
                "config": {"credential": cred, "destination": amqp_queue, "timeout_s": 0.5},
            },
        ],
        chain=False,
    )
    assert node_of(run, "pub")["error"]["category"] == "INTEGRATION_ERROR"
    assert node_of(run, "sub")["error"]["category"] == "TIMEOUT_ERROR"


def test_amqp_wrong_password_is_an_authentication_error(api, amqp_queue):
    name = unique("amqp")
    make_credential(api, name, {"url": "amqp://guest:not-the-password@127.0.0.1:5672/"})
    run = run_nodes(
        api,
        [
            {
                "id": "pub",
                "type": "mq.publish",
                "config": {"credential": name, "destination": amqp_queue, "message": 1},
            }
        ],
    )
    error = node_of(run, "pub")["error"]
    assert error["category"] == "AUTHENTICATION_ERROR" and "not-the-password" not in str(run)


def test_redis_stream_publish_then_consume_one(api):
    cred = _credential(api, "redis")
    stream = unique("stream")
    run = _round_trip(api, cred, stream, "plain text")
    assert run["status"] == "completed", [n["error"] for n in run["nodes"]]
    assert run["output"]["message"] == "plain text"
    assert run["output"]["headers"]["message_id"] == node_of(run, "pub")["output"]["message_id"]
    again = run_nodes(
        api,
        [
            {
                "id": "sub",
                "type": "mq.consume",
                "config": {"credential": cred, "destination": stream, "timeout_s": 0.3},
            }
        ],
    )
    assert node_of(again, "sub")["error"]["category"] == "TIMEOUT_ERROR"  # acknowledged: not delivered twice
    import redis

    redis.Redis.from_url(URLS["redis"]).delete(stream)


def test_mqtt_retained_publish_then_consume(api):
    cred = _credential(api, "mqtt")
    topic = f"switchyard/test/{unique('t')}"
    run = _round_trip(api, cred, topic, {"temp": 21.5}, retain=True, headers={"unit": "C"})
    assert run["status"] == "completed", [n["error"] for n in run["nodes"]]
    assert run["output"]["message"] == {"temp": 21.5} and run["output"]["headers"]["unit"] == "C"
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", 1883)
    client.publish(topic, b"", retain=True).wait_for_publish(5)  # clear the retained message
    client.disconnect()


def _keep_publishing(send, stop: threading.Event):
    while not stop.is_set():
        send()
        time.sleep(0.05)


def test_mqtt_consume_waits_for_the_next_message(api):
    cred = _credential(api, "mqtt")
    topic = f"switchyard/test/{unique('t')}"
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    stop = threading.Event()
    publisher = threading.Thread(
        target=_keep_publishing, args=(lambda: client.publish(topic, b'{"n": 1}', qos=1), stop)
    )
    publisher.start()
    try:
        run = run_nodes(
            api,
            [
                {
                    "id": "sub",
                    "type": "mq.consume",
                    "config": {"credential": cred, "destination": topic, "timeout_s": 5},
                }
            ],
        )
    finally:
        stop.set()
        publisher.join()
        client.loop_stop()
        client.disconnect()
    assert run["status"] == "completed", [n["error"] for n in run["nodes"]]
    assert run["output"] == {"destination": topic, "message": {"n": 1}, "headers": {}}


def test_nats_core_consume_waits_for_the_next_message(api):
    cred = _credential(api, "nats")
    subject = unique("orders.created").replace("_", ".")
    loop = asyncio.new_event_loop()
    client = loop.run_until_complete(nats.connect("nats://127.0.0.1:4222"))
    lock = threading.Lock()

    def send():
        with lock:
            loop.run_until_complete(client.publish(subject, b"hello", headers={"k": "v"}))
            loop.run_until_complete(client.flush())

    stop = threading.Event()
    publisher = threading.Thread(target=_keep_publishing, args=(send, stop))
    publisher.start()
    try:
        run = run_nodes(
            api,
            [
                {
                    "id": "sub",
                    "type": "mq.consume",
                    "config": {"credential": cred, "destination": subject, "timeout_s": 5},
                }
            ],
        )
    finally:
        stop.set()
        publisher.join()
        loop.run_until_complete(client.close())
        loop.close()
    assert run["status"] == "completed", [n["error"] for n in run["nodes"]]
    assert run["output"]["message"] == "hello" and run["output"]["headers"] == {"k": "v"}


def test_nats_jetstream_publish_then_consume_one(api):
    stream = unique("S")
    subject = f"{stream}.events"

    async def make_stream():
        client = await nats.connect("nats://127.0.0.1:4222")
        await client.jetstream().add_stream(name=stream, subjects=[subject])
        await client.close()

    async def drop_stream():
        client = await nats.connect("nats://127.0.0.1:4222")
        await client.jetstream().delete_stream(stream)
        await client.close()

    asyncio.run(make_stream())
    try:
        cred = _credential(api, "nats", jetstream="true")
        run = _round_trip(api, cred, subject, {"id": 7})
    finally:
        asyncio.run(drop_stream())
    assert run["status"] == "completed", [n["error"] for n in run["nodes"]]
    assert run["output"]["message"] == {"id": 7}
    assert run["output"]["headers"]["message_id"] == node_of(run, "pub")["output"]["message_id"]


def test_amqp_consumes_one_message_per_node_on_a_reused_connection(api, amqp_queue):
    cred = _credential(api, "amqp")
    publish = {"credential": cred, "destination": amqp_queue}
    consume = {"credential": cred, "destination": amqp_queue, "timeout_s": 5}
    run = run_nodes(
        api,
        [
            {"id": "p1", "type": "mq.publish", "config": {**publish, "message": "first"}},
            {"id": "p2", "type": "mq.publish", "config": {**publish, "message": "second"}},
            {"id": "c1", "type": "mq.consume", "config": consume},
            {"id": "c2", "type": "mq.consume", "config": consume},
            {"id": "c3", "type": "mq.consume", "config": {**consume, "timeout_s": 0.5}},
        ],
    )
    assert node_of(run, "c1")["output"]["message"] == "first"
    assert node_of(run, "c2")["output"]["message"] == "second"
    assert node_of(run, "c3")["error"]["category"] == "TIMEOUT_ERROR"
