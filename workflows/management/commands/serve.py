"""`manage.py serve`: daphne (HTTP + websockets), the Django-Q cluster and the timekeeper
together in the foreground. SIGINT/SIGTERM stops all of them; children also die with the
parent (PR_SET_PDEATHSIG), so nothing is left orphaned."""
import ctypes
import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

PR_SET_PDEATHSIG = 1


def _die_with_parent():
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


class Command(BaseCommand):
    help = "Run the web server (daphne) and the background workers (Django-Q) until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=settings.Q_WORKERS, help="Django-Q worker processes")
        parser.add_argument("--no-workers", action="store_true", help="web server only (workers run elsewhere)")

    def handle(self, *args, host, port, workers, no_workers, **options):
        env = {**os.environ, "Q_WORKERS": str(workers), "PYTHONUNBUFFERED": "1"}
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        commands = {
            "web": [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), "--proxy-headers",
                    "config.asgi:application"],
        }
        if not no_workers:
            commands["workers"] = [*manage, "qcluster"]
            commands["timekeeper"] = [*manage, "timekeeper"]
        # Only the web server pools database connections (see settings: DB_POOL).
        envs = {"web": {**env, "DB_POOL": os.environ.get("DB_POOL", "true")}}
        children = {
            name: subprocess.Popen(cmd, env=envs.get(name, env), cwd=settings.BASE_DIR, preexec_fn=_die_with_parent)
            for name, cmd in commands.items()
        }
        self.stdout.write(f"Switchyard on http://{host}:{port}/ ({workers} worker processes). Ctrl-C stops.")
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
