"""The load generator shared by the webhook benchmarks (bench/webhooks.py, bench/compare_n8n.py).

`drive()` sends N requests from C threads, each holding one keep-alive `http.client`
connection (the same shape as ../shared/peers/n8n/load.py), and records every answer's
status and latency. `client_ceiling()` drives a do-nothing HTTP server running in its own
process, so a figure close to it measures the client, not the server.

    .venv/bin/python bench/_load.py --stub PORT     # the do-nothing server (used internally)
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class LoadResult:
    requests: int
    concurrency: int
    wall_s: float
    statuses: Counter = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)  # 2xx answers only
    errors: list[str] = field(default_factory=list)  # transport errors and a sample of non-2xx bodies
    samples: list[tuple[int, int, bytes]] = field(default_factory=list)  # (i, status, body) of a few answers

    @property
    def ok(self) -> int:
        return sum(n for code, n in self.statuses.items() if 200 <= code < 300)

    @property
    def rps(self) -> float:
        return self.ok / self.wall_s if self.wall_s else 0.0

    def pct(self) -> tuple[float, float, float]:
        return percentiles(self.latencies_ms)


def percentiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        v = values[0] if values else float("nan")
        return v, v, v
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49], q[94], q[98]


def default_body(i: int) -> bytes:
    """The body ../shared/peers/n8n/load.py sends: the amount alternates around 100."""
    return json.dumps({"name": f"user{i}", "amount": (i % 200) + 1, "qty": i % 7, "seed": i}).encode()


def drive(
    port: int,
    path: str,
    n: int,
    concurrency: int,
    *,
    body: Callable[[int], bytes] = default_body,
    headers: dict | None = None,
    method: str = "POST",
    timeout_s: float = 120,
    max_s: float = 1800,
    keep_samples: int = 5,
    host: str = "127.0.0.1",
) -> LoadResult:
    """Send `n` requests with `concurrency` keep-alive connections; returns when all answered."""
    headers = {"Content-Type": "application/json", **(headers or {})}
    lock = threading.Lock()
    counter = iter(range(n))
    result = LoadResult(requests=n, concurrency=concurrency, wall_s=0.0)
    deadline = time.monotonic() + max_s
    start = threading.Barrier(concurrency + 1)

    def worker():
        conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
        latencies, statuses, errors, samples = [], Counter(), [], []
        start.wait()
        while time.monotonic() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            data = body(i)
            t0 = time.perf_counter()
            try:
                conn.request(method, path, data, headers)
                resp = conn.getresponse()
                raw = resp.read()
                dt = (time.perf_counter() - t0) * 1e3
                statuses[resp.status] += 1
                if 200 <= resp.status < 300:
                    latencies.append(dt)
                elif len(errors) < 5:
                    errors.append(f"{resp.status} {raw[:200]!r}")
                if len(samples) < keep_samples:
                    samples.append((i, resp.status, raw[:2000]))
                if resp.will_close:
                    conn.close()
                    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
            except (OSError, http.client.HTTPException) as exc:
                statuses[0] += 1  # no answer
                errors.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
        conn.close()
        with lock:
            result.latencies_ms.extend(latencies)
            result.statuses.update(statuses)
            result.errors.extend(errors)
            result.samples.extend(samples)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    result.wall_s = time.perf_counter() - t0
    return result


# -- the client's own ceiling ---------------------------------------------------------------


class _Stub(asyncio.Protocol):
    """HTTP/1.1 keep-alive server that answers every request `200 {}` at once."""

    ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

    def connection_made(self, transport):
        self.transport, self.buf = transport, b""

    def data_received(self, data):
        self.buf += data
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            length = 0
            for line in self.buf[:head_end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            end = head_end + 4 + length
            if len(self.buf) < end:
                return
            self.buf = self.buf[end:]
            self.transport.write(self.ANSWER)


def stub_main(port: int) -> None:
    async def serve():
        server = await asyncio.get_running_loop().create_server(_Stub, "127.0.0.1", port)
        print("ready", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


def client_ceiling(concurrency: int, n: int = 3000) -> float:
    """Answers/s this client reaches against a server that does nothing (separate process)."""
    from bench._harness import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--stub", str(port)], stdout=subprocess.PIPE, cwd=ROOT)
    try:
        proc.stdout.readline()
        drive(port, "/", 200, concurrency)  # warm-up
        return drive(port, "/", n, concurrency).rps
    finally:
        proc.terminate()
        proc.wait()


def stat_fields() -> Iterator[tuple[int, list[str]]]:
    """(pid, stat_fields) of every live process; stat_fields start after the name: state,
    ppid, pgrp, … (utime, stime, cutime, cstime at 11-14, in clock ticks)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                yield int(entry), f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue


def cpu_seconds(selected: Callable[[int, list[str]], bool]) -> float:
    """CPU seconds (user + system, reaped children included) of every live process that
    `selected(pid, stat_fields)` picks (see `stat_fields`)."""
    total = sum(sum(int(x) for x in fields[11:15]) for pid, fields in stat_fields() if selected(pid, fields))
    return total / os.sysconf("SC_CLK_TCK")


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--stub":
        stub_main(int(sys.argv[2]))
    else:
        sys.path.insert(0, str(ROOT))
        for c in (1, 16, 32):
            print(f"client ceiling, concurrency {c}: {client_ceiling(c):.0f} answers/s")
