"""A real HTTP target on 127.0.0.1 that counts hits per path and can be slow."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Target:
    def __init__(self):
        self.hits: dict[str, int] = {}
        self.lock = threading.Lock()
        self.slow_first: dict[str, float] = {}  # path -> seconds the FIRST call sleeps
        target = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                with target.lock:
                    target.hits[self.path] = n = target.hits.get(self.path, 0) + 1
                if n == 1 and self.path in target.slow_first:
                    time.sleep(target.slow_first[self.path])
                body = json.dumps({"path": self.path, "call": n}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            do_POST = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
