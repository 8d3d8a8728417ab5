"""`manage.py serve`: daphne (HTTP + websockets), the Django-Q cluster, the timekeeper and,
with `--smtp-port`, the inbound SMTP receiver for email triggers, together in the foreground.
SIGINT/SIGTERM stops all of them; children also die with the
parent (PR_SET_PDEATHSIG), and so does every process the worker cluster forks (its
sentinel, monitor, pusher and workers), so nothing is left orphaned even when `serve` is
killed outright.

`--web N` runs N daphne processes accepting on one listening socket that `serve` opens
(`--web 0`: workers, timekeeper and queue consumers only, for another machine)
(a single Python process uses one core at most; runs that a web request waits for are
executed in the web process, see runs.tasks.InlineRunner)."""

import argparse
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: int = signal.SIGTERM):
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, sig)
    except OSError:
        pass


_forking_pid = None


def _remember_parent():
    global _forking_pid
    _forking_pid = os.getpid()


def _forked_child_dies_with_parent():
    """In every process the worker cluster forks: killed when its parent goes away (if the
    parent is already gone, exit now)."""
    _die_with_parent(signal.SIGKILL)
    if _forking_pid is not None and os.getppid() != _forking_pid:
        os._exit(1)


def _drop_metrics_of_dead_processes():
    """Prometheus files (`<kind>_<pid>.db`) of processes that are gone: their counts restart."""
    for path in settings.METRICS_DIR.glob("*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            path.unlink(missing_ok=True)


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(1024)
    listener.set_inheritable(True)
    return listener


def serve_base_url(host: str, port: int) -> str:
    """Our own address for URLs made outside a request (callbacks). A wildcard host is
    reached through loopback from this machine."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "[::1]"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


class Command(BaseCommand):
    help = "Run the web server (daphne) and the background workers (Django-Q) until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--workers", type=int, default=settings.Q_WORKERS, help="Django-Q worker processes"
        )
        parser.add_argument(
            "--no-workers", action="store_true", help="web server only (workers run elsewhere)"
        )
        parser.add_argument(
            "--web",
            type=int,
            default=settings.WEB_PROCESSES,
            help="web server (daphne) processes sharing the port; 0: a worker-only machine",
        )
        parser.add_argument(
            "--smtp-port",
            type=int,
            default=settings.INBOUND_SMTP_PORT,
            help="also receive mail for email triggers on this port (inbound_smtp); 0: off",
        )
        parser.add_argument(
            "--no-queues",
            action="store_true",
            help="no trigger.queue consumers here (run queue_triggers elsewhere)",
        )
        parser.add_argument("--worker-cluster", action="store_true", help=argparse.SUPPRESS)

    def handle(
        self,
        *args,
        host,
        port,
        workers,
        no_workers,
        web,
        smtp_port,
        worker_cluster,
        no_queues=False,
        **options,
    ):
        if worker_cluster:
            return self._worker_cluster()
        from workflows.demo_login import serve_refusal

        if web > 0 and (reason := serve_refusal(host)):
            raise CommandError(reason)
        if web <= 0 and no_workers:
            raise CommandError("Nothing to run: --web 0 and --no-workers.")
        _drop_metrics_of_dead_processes()
        env = {
            **os.environ,
            "Q_WORKERS": str(workers),
            "PYTHONUNBUFFERED": "1",
            "SERVE_BASE_URL": serve_base_url(host, port),
        }
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        listener = _listen(host, port) if web > 0 else None
        daphne = [
            sys.executable,
            "-m",
            settings.SERVE_WEB_SERVER,  # daphne, with JSON answers for what the HTTP layer refuses
            "--fd",
            str(listener.fileno() if listener else -1),
            "--proxy-headers",
            ":".join(settings.ASGI_APPLICATION.rsplit(".", 1)),  # module:attribute, as daphne takes it
        ]
        # --web 0: a worker-only machine (workers, timekeeper, queue consumers), no web server.
        commands = {("web" if i == 0 else f"web-{i + 1}"): daphne for i in range(max(0, web))}
        if not no_workers:
            commands["workers"] = [*manage, "serve", "--worker-cluster"]
            commands["timekeeper"] = [*manage, "timekeeper"]
            if not no_queues:
                commands["queues"] = [*manage, "queue_triggers"]  # trigger.queue consumers
        if smtp_port:
            commands["smtp"] = [*manage, "inbound_smtp", "--host", host, "--port", str(smtp_port)]
        # Only the web server pools database connections (see settings: DB_POOL).
        web_env = {**env, "DB_POOL": os.environ.get("DB_POOL", "true")}
        children = {
            name: subprocess.Popen(
                cmd,
                env=web_env if name.startswith("web") else env,
                cwd=settings.BASE_DIR,
                preexec_fn=_die_with_parent,
                pass_fds=(listener.fileno(),) if listener and name.startswith("web") else (),
            )
            for name, cmd in commands.items()
        }
        if listener:
            listener.close()  # each web process holds its own copy
        smtp = f", mail for email triggers on {host}:{smtp_port}" if smtp_port else ""
        where = f"on http://{host}:{port}/" if listener else "workers only (no web server)"
        self.stdout.write(
            f"Switchyard {where} ({max(0, web)} web, {workers} worker processes{smtp}). Ctrl-C stops."
        )
        self.stdout.flush()

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        try:
            while not stopping:
                for name, proc in children.items():
                    if proc.poll() is not None:
                        self.stderr.write(f"{name} exited with {proc.returncode}; stopping.")
                        exit_code = proc.returncode or 1
                        stopping = True
                        break
                time.sleep(0.2)
        finally:
            self._stop_all(children)
        if exit_code:
            sys.exit(exit_code)

    def _worker_cluster(self):
        """The Django-Q cluster, with every process it forks tied to its parent's life."""
        from django.core.management import call_command

        os.register_at_fork(before=_remember_parent, after_in_child=_forked_child_dies_with_parent)
        if settings.WORKER_NICE:
            os.nice(settings.WORKER_NICE)  # when CPU is short, intake (the web) goes first
        call_command("qcluster")

    def _stop_all(self, children, grace_s: float = 10.0):
        for proc in children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for proc in children.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
