"""Integration adapter overhead against the bare client libraries. Prints figures; asserts nothing.

    .venv/bin/python bench/adapters.py [--n 300] [--repeat 3] [--unpooled-n 40] [--only pg,redis,...]

For each adapter, in one process and interleaved per repeat, against the real local servers
(PostgreSQL, MariaDB, Redis, RabbitMQ, Mosquitto, NATS) and servers this script starts on
127.0.0.1 (gRPC, GraphQL, SOAP, SFTP, FTP, S3 via moto):

- bare: N calls straight through the client library on one open connection (what a hand
  written integration would do);
- adapter: N operations through `lifecycle.run_operation` — the path every adapter node
  takes after its credential is resolved: lifecycle states logged (into a list, as a node's
  log), settings checked, the address rule and allowlist, the rate limiter, a pooled
  connection, named-parameter binding / message encoding, JSON results, masking, metadata.
  Credential decryption and its audit row (one DB transaction per operation) are not
  included: that cost belongs to the workspace store, not to the adapter.
- unpooled: the adapter path with a fresh connection per operation, to show what pooling buys.
- the `runner` row: an adapter that does nothing, so its overhead is the runner's own cost
  per operation, the part every adapter pays, measured without a server's noise.

Figures per adapter: µs per operation bare and through the adapter (median of the repeats),
their ratio (target ≤ 1.5× for a ~1 ms operation) and the overhead in µs; "our CPU µs": the
CPU time this process spends per operation through the adapter minus bare (the overhead
itself, which a busy machine inflates in wall time by however long the scheduler makes us
wait for a core), and "at 1 ms": the ratio a 1 ms operation would show with that overhead
(what the target is about); "thread µs": the same difference for the calling thread's CPU
alone, which leaves out the servers this script runs in its own threads (moto's S3 spends
several ms of CPU per request, and its variance swamps the process figure) but also any
work a client library does in a background thread (paho, nats, grpc); ops/s pooled vs
unpooled. Noise: the load average is printed
before and after; other work on this 2-core machine skews every wall-time figure, and the
local servers share the machine with the bench.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.adapters import load_adapters  # noqa: E402
from connectors.adapters.base import Limits, settings_from  # noqa: E402
from connectors.adapters.lifecycle import OperationRequest, run_operation  # noqa: E402
from connectors.adapters.pool import ConnectionPool  # noqa: E402
from connectors.adapters.registry import adapters  # noqa: E402

TARGET_RATIO = 1.5
LIMITS = Limits(timeout_s=30, allow_private=True)


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


class Case:
    """One adapter operation and its bare-library twin."""

    def __init__(self, key, family, operation, data, params, bare, close=lambda: None):
        self.key, self.family, self.operation = key, family, operation
        self.settings = settings_from(credential_id=f"bench-{key}", credential_name=f"bench_{key}", data=data)
        self.params, self.bare, self.close = params, bare, close

    def adapter_op(self, pool: ConnectionPool):
        logs: list = []
        request = OperationRequest(
            family=self.family,
            operation=self.operation,
            credential=self.settings.credential_name,
            params=self.params,
            resolve=lambda _name: self.settings,
            log=lambda *entry: logs.append(entry),
            limits=LIMITS,
        )
        return run_operation(request, connections=pool)


def timed(fn, n: int, cpu: list | None = None, thread_cpu: list | None = None) -> float:
    """µs per call over n calls (after 5 warm-up calls); with `cpu`, also appends this
    process's CPU µs per call (what the call costs us, whatever else the machine runs), and
    with `thread_cpu` the calling thread's alone (without the servers this script runs in
    its own threads)."""
    for _ in range(5):
        fn()
    started, cpu_started, thread_started = time.perf_counter(), time.process_time(), time.thread_time()
    for _ in range(n):
        fn()
    if cpu is not None:
        cpu.append((time.process_time() - cpu_started) / n * 1e6)
    if thread_cpu is not None:
        thread_cpu.append((time.thread_time() - thread_started) / n * 1e6)
    return (time.perf_counter() - started) / n * 1e6


# -- cases ------------------------------------------------------------------------------


def case_pg():
    import psycopg

    conn = psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True)

    def bare():
        with conn.cursor() as cur:
            cur.execute("SELECT %(x)s::int AS one", {"x": 1})
            cur.fetchall()

    data = {"url": "postgresql://postgres@127.0.0.1:5432/test"}
    params = {"sql": "SELECT :x::int AS one", "params": {"x": 1}}
    return Case("pg", "db", "query", data, params, bare, conn.close)


def case_mysql():
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", user="root", password="", database="test", autocommit=True)

    def bare():
        with conn.cursor() as cur:
            cur.execute("SELECT %(x)s AS one", {"x": 1})
            cur.fetchall()

    data = {"url": "mysql://root@127.0.0.1:3306/test"}
    return Case(
        "mysql", "db", "query", data, {"sql": "SELECT :x AS one", "params": {"x": 1}}, bare, conn.close
    )


def case_redis():
    import redis

    stream = f"bench_{uuid.uuid4().hex[:8]}"
    client = redis.Redis(host="127.0.0.1", port=6379, db=6)

    def bare():
        client.xadd(stream, {"message": b'{"n":1}'}, maxlen=1000)

    def close():
        client.delete(stream)
        client.close()

    data = {"url": "redis://127.0.0.1:6379/6"}
    return Case("redis", "mq", "publish", data, {"destination": stream, "message": {"n": 1}}, bare, close)


def case_amqp():
    import pika

    queue = f"bench_{uuid.uuid4().hex[:8]}"
    conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", 5672, heartbeat=0))
    channel = conn.channel()
    channel.queue_declare(queue, arguments={"x-max-length": 1000})
    channel.confirm_delivery()

    def bare():
        channel.basic_publish("", queue, b'{"n":1}', pika.BasicProperties(delivery_mode=2), mandatory=True)

    def close():
        channel.queue_delete(queue)
        conn.close()

    data = {"url": "amqp://guest:guest@127.0.0.1:5672/"}
    return Case("amqp", "mq", "publish", data, {"destination": queue, "message": {"n": 1}}, bare, close)


def case_mqtt():
    import paho.mqtt.client as mqtt

    topic = f"bench/{uuid.uuid4().hex[:8]}"
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    time.sleep(0.2)

    def bare():
        client.publish(topic, b'{"n":1}', qos=1).wait_for_publish(5)

    def close():
        client.loop_stop()
        client.disconnect()

    return Case(
        "mqtt",
        "mq",
        "publish",
        {"url": "mqtt://127.0.0.1:1883"},
        {"destination": topic, "message": {"n": 1}},
        bare,
        close,
    )


def case_nats():
    import nats

    subject = f"bench.{uuid.uuid4().hex[:8]}"
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    client = asyncio.run_coroutine_threadsafe(nats.connect("nats://127.0.0.1:4222"), loop).result(10)

    async def publish():
        await client.publish(subject, b'{"n":1}', headers={"Nats-Msg-Id": uuid.uuid4().hex})
        await client.flush()

    def bare():
        asyncio.run_coroutine_threadsafe(publish(), loop).result(10)

    def close():
        asyncio.run_coroutine_threadsafe(client.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)

    return Case(
        "nats",
        "mq",
        "publish",
        {"url": "nats://127.0.0.1:4222"},
        {"destination": subject, "message": {"n": 1}},
        bare,
        close,
    )


def case_grpc():
    import grpc

    from tests.adapters.api_servers import GrpcServer, _calc_messages

    server = GrpcServer()
    _, request_class, reply_class = _calc_messages()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    call = channel.unary_unary(
        "/switchyard.test.Calc/Add",
        request_serializer=request_class.SerializeToString,
        response_deserializer=reply_class.FromString,
    )

    def bare():
        call(request_class(a=1, b=2), timeout=10)

    def close():
        channel.close()
        server.close()

    params = {"method": "switchyard.test.Calc/Add", "request": {"a": 1, "b": 2}}
    return Case("grpc", "grpc", "call", {"url": server.url}, params, bare, close)


def case_graphql():
    import requests

    from tests.adapters.api_servers import GraphqlServer

    server = GraphqlServer()
    session = requests.Session()
    session.headers["Authorization"] = "Bearer gql-token-Q7"
    query = "query Get($id: Int!) { book(id: $id) { title } }"

    def bare():
        session.post(server.url, json={"query": query, "variables": {"id": 1}}, timeout=10).json()

    def close():
        session.close()
        server.close()

    data = {"url": server.url, "token": "gql-token-Q7"}
    return Case("graphql", "graphql", "query", data, {"query": query, "variables": {"id": 1}}, bare, close)


def case_soap():
    import zeep

    from tests.adapters.api_servers import SoapServer

    server = SoapServer()
    client = zeep.Client(server.wsdl)

    def bare():
        client.service.Add(a=1, b=2)

    return Case(
        "soap",
        "soap",
        "call",
        {"url": server.wsdl},
        {"operation": "Add", "arguments": {"a": 1, "b": 2}},
        bare,
        server.close,
    )


def case_sftp():
    import asyncssh

    from tests.adapters.servers import PASSWORD, USER, SftpServer

    root = Path(tempfile.mkdtemp())
    server = SftpServer(root)
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()

    async def open_client():
        ssh = await asyncssh.connect(
            "127.0.0.1", server.port, username=USER, password=PASSWORD, known_hosts=None
        )
        return ssh, await ssh.start_sftp_client()

    ssh, sftp = asyncio.run_coroutine_threadsafe(open_client(), loop).result(10)

    async def upload():
        async with sftp.open("/bare.txt", "wb") as handle:
            await handle.write(b"x" * 100)

    def bare():
        asyncio.run_coroutine_threadsafe(upload(), loop).result(10)

    def close():
        ssh.close()
        server.close()

    data = {"url": f"sftp://{USER}:{PASSWORD}@127.0.0.1:{server.port}/"}
    return Case("sftp", "file", "upload", data, {"path": "adapter.txt", "content": "x" * 100}, bare, close)


def case_ftp():
    import ftplib
    import io

    from tests.adapters.servers import PASSWORD, USER, FtpServer

    root = Path(tempfile.mkdtemp())
    server = FtpServer(root)
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", server.port)
    ftp.login(USER, PASSWORD)

    def bare():
        ftp.storbinary("STOR /bare.txt", io.BytesIO(b"x" * 100))

    def close():
        ftp.quit()
        server.close()

    data = {"url": f"ftp://{USER}:{PASSWORD}@127.0.0.1:{server.port}/"}
    return Case("ftp", "file", "upload", data, {"path": "adapter.txt", "content": "x" * 100}, bare, close)


def case_s3():
    import logging

    from tests.adapters.servers import S3Server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log

    server = S3Server()
    client = server.client()
    client.create_bucket(Bucket="bench")

    def bare():
        client.put_object(Bucket="bench", Key="bare.txt", Body=b"x" * 100)

    def close():
        client.close()
        server.close()

    data = {
        "url": "s3://bench/",
        "endpoint_url": server.endpoint,
        "access_key_id": "AKIDTEST",
        "secret_access_key": "s3-secret-key-Zz",
    }
    return Case("s3", "file", "upload", data, {"path": "adapter.txt", "content": "x" * 100}, bare, close)


def case_runner():
    """The runner alone: an adapter whose operation does nothing, so the row is the cost of
    `run_operation` itself (states and their masking, settings checks, the rate limiter, a
    pooled checkout, metadata) without any server's work or noise in it."""
    from connectors.adapters.base import Adapter, OperationResult

    class _Nothing:
        def close(self):
            pass

    class RunnerOnly(Adapter):
        id = "bench-runner"
        name = "Runner only"
        family = "bench"
        protocols = ("bench",)

        def target(self, settings):
            return None

        def connect(self, settings, limits):
            return _Nothing()

        def execute(self, connection, operation, params, limits):
            return OperationResult({"path": params["path"], "bytes": 100}, bytes=100)

    if "bench-runner" not in {a.id for a in adapters.all()}:
        adapters.register(RunnerOnly())
    data = {"url": "bench://runner/in", "token": "bench-runner-secret-Q9"}  # a secret to mask, as usual

    def bare():
        return {"path": "adapter.txt", "bytes": 100}

    return Case("runner", "bench", "noop", data, {"path": "adapter.txt", "content": "x" * 100}, bare)


CASES = {
    "runner": case_runner,
    "pg": case_pg,
    "mysql": case_mysql,
    "redis": case_redis,
    "amqp": case_amqp,
    "mqtt": case_mqtt,
    "nats": case_nats,
    "grpc": case_grpc,
    "graphql": case_graphql,
    "soap": case_soap,
    "sftp": case_sftp,
    "ftp": case_ftp,
    "s3": case_s3,
}


def measure(case: Case, n: int, repeat: int, unpooled_n: int) -> dict:
    pooled = ConnectionPool()
    bare_us, adapter_us, unpooled_us, bare_cpu, adapter_cpu = [], [], [], [], []
    bare_thread, adapter_thread = [], []
    adapter = adapters.adapter_for(case.family, case.settings.scheme)
    for _ in range(repeat):
        bare_us.append(timed(case.bare, n, bare_cpu, bare_thread))
        adapter_us.append(timed(lambda: case.adapter_op(pooled), n, adapter_cpu, adapter_thread))
        adapter.pooled = False
        try:
            unpooled_us.append(timed(lambda: case.adapter_op(pooled), unpooled_n))
        finally:
            adapter.pooled = True
    pooled.close_all()
    bare, through = statistics.median(bare_us), statistics.median(adapter_us)
    return {
        "bare_us": bare,
        "adapter_us": through,
        "ratio": through / bare,
        "overhead_us": through - bare,
        "cpu_overhead_us": statistics.median(adapter_cpu) - statistics.median(bare_cpu),
        "thread_overhead_us": statistics.median(adapter_thread) - statistics.median(bare_thread),
        "pooled_ops_s": 1e6 / through,
        "unpooled_ops_s": 1e6 / statistics.median(unpooled_us),
        "spread": (min(adapter_us), max(adapter_us)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=300, help="operations per repeat and side")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--unpooled-n", type=int, default=40, help="unpooled operations per repeat")
    parser.add_argument("--only", default="", help="comma-separated subset of " + ",".join(CASES))
    args = parser.parse_args()
    load_adapters()
    chosen = [c for c in (args.only.split(",") if args.only else CASES) if c]
    print(f"bench/adapters.py  n={args.n} repeat={args.repeat} unpooled_n={args.unpooled_n}  load {load()}")
    header = (
        f"{'adapter':8} {'operation':14} {'bare µs':>9} {'adapter µs':>11} {'ratio':>6} {'overhead µs':>12}"
    )
    print(
        header
        + f" {'our CPU µs':>11} {'thread µs':>10} {'at 1 ms':>8} {'pooled ops/s':>13} {'unpooled ops/s':>15}"
        + f" {'pool gain':>10}"
    )
    for key in chosen:
        try:
            case = CASES[key]()
        except Exception as exc:  # noqa: BLE001 - a server that is not running skips its row
            print(f"{key:8} skipped: {type(exc).__name__}: {exc}")
            continue
        try:
            r = measure(case, args.n, args.repeat, args.unpooled_n)
        finally:
            case.close()
        at_1ms = (1000 + max(0.0, r["cpu_overhead_us"])) / 1000
        flag = "" if at_1ms <= TARGET_RATIO else "  (over target)"
        print(
            f"{key:8} {case.family + '.' + case.operation:14} {r['bare_us']:9.0f} {r['adapter_us']:11.0f}"
            f" {r['ratio']:5.2f}x {r['overhead_us']:12.0f} {r['cpu_overhead_us']:11.0f}"
            f" {r['thread_overhead_us']:10.0f} {at_1ms:7.2f}x"
            f" {r['pooled_ops_s']:13.0f} {r['unpooled_ops_s']:15.0f}"
            f" {r['pooled_ops_s'] / r['unpooled_ops_s']:9.1f}x{flag}"
        )
    print(f"target: adapter ≤ {TARGET_RATIO}x bare for a ~1 ms operation; load after {load()}")


if __name__ == "__main__":
    main()
