"""A tiny local HTTP server that misbehaves on request, and builders for service-kind tasks.

``FakeService(behaviour)`` serves ``POST /api/check`` (and ``GET /api/openapi.json``) on
127.0.0.1 from a thread; a handler that must hang waits on the server's stop event, so stopping
the server releases it. Behaviours:

==============  ===============================================================================
``reply``       HTTP 200 with ``make(snippet_id)`` as JSON (``make`` given to the server)
``not_json``    HTTP 200 with an HTML page
``missing``     HTTP 200, the result has neither ``error`` nor ``response``
``huge``        HTTP 200 streaming ``huge_bytes`` bytes of a JSON string
``slow_body``   HTTP 200 with a Content-Length, a few bytes, then nothing until stopped
``no_reply``    reads the request, never answers until stopped
``status``      HTTP ``status`` with a short text body
==============  ===============================================================================
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from calib_async.profiles import VerifierConfig
from calib_async.records import Phase, Task, Tier
from helpers import file_item

Make = Callable[[str], dict[str, Any]]


def valid_result(snippet_id: str) -> dict[str, Any]:
    return {
        "results": [
            {
                "id": snippet_id,
                "time": 0.01,
                "response": {"env": 0},
                "diagnostics": {"repl_uuid": "u-1"},
            }
        ]
    }


class FakeService:
    def __init__(
        self,
        behaviour: str,
        *,
        make: Make = valid_result,
        status: int = 500,
        huge_bytes: int = 4 * 2**20,
    ) -> None:
        self.behaviour = behaviour
        self.make = make
        self.status = status
        self.huge_bytes = huge_bytes
        self.stop = threading.Event()
        self.requests: list[dict[str, Any]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeService:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self.send(200, json.dumps({"info": {"title": "Fake", "version": "0.1"}}).encode())

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                request = json.loads(self.rfile.read(length))
                request["_auth"] = self.headers.get("Authorization")
                fake.requests.append(request)
                sid = request["snippets"][0]["id"]
                b = fake.behaviour
                if b == "reply":
                    self.send(200, json.dumps(fake.make(sid)).encode())
                elif b == "not_json":
                    self.send(200, b"<html>502 Bad Gateway</html>", "text/html")
                elif b == "missing":
                    self.send(200, json.dumps({"results": [{"id": sid, "time": 1.0}]}).encode())
                elif b == "huge":
                    self.send_response(200)
                    self.send_header("Content-Length", str(fake.huge_bytes + 2))
                    self.end_headers()
                    self.wfile.write(b'"')
                    block = b"x" * 65536
                    for _ in range(fake.huge_bytes // len(block)):
                        if fake.stop.is_set():
                            return
                        self.wfile.write(block)
                elif b == "slow_body":
                    self.send_response(200)
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    self.wfile.write(b'{"results": [')
                    self.wfile.flush()
                    fake.stop.wait(60)
                elif b == "no_reply":
                    fake.stop.wait(60)
                else:
                    self.send(fake.status, b"Internal Server Error", "text/plain")

        return Handler


def service_config(url: str, **options: Any) -> VerifierConfig:
    return VerifierConfig(name="svc", kind="service", options={"url": url, **options})


def service_task(
    tmp: Path, text: str, *, timeout_s: float = 1.0, item_id: str = "p1", **options: Any
) -> Task:
    path = tmp / f"{item_id}.lean"
    item = file_item(path, text, item_id=item_id)
    tier = Tier(name="T", timeout_s=timeout_s, verifier="svc", options=options)
    return Task(item=item, tier=tier, verifier="svc", phase=Phase.TELEMETRY)
