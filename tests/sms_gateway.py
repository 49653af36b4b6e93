"""A local SMS gateway for the tests, speaking the subset of Twilio's Messages API that
aefi's HttpGateway uses: POST /2010-04-01/Accounts/{account}/Messages.json with basic auth
and form fields To, From, Body; 201 {"sid": ...}. Numbers starting with +0 / 0 are refused
with Twilio's error 21211 (invalid 'To' number). It can be stopped and started on the same
port (the gateway down, then back)."""

from __future__ import annotations

import base64
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class LocalSmsGateway:
    def __init__(self, account: str = "ACtest", token: str = "secret") -> None:
        self.account, self.token = account, token
        self.received: list[dict[str, str]] = []
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._ids = itertools.count(1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalSmsGateway:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                expected = f"/2010-04-01/Accounts/{gateway.account}/Messages.json"
                auth = base64.b64encode(f"{gateway.account}:{gateway.token}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {auth}":
                    return self._json(401, {"code": 20003, "message": "Authenticate"})
                if self.path != expected:
                    return self._json(404, {"code": 20404, "message": "Not found"})
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if not form.get("To") or form["To"].lstrip("+").startswith("0"):
                    return self._json(400, {"code": 21211, "message": "Invalid 'To' Phone Number"})
                sid = f"SM{next(gateway._ids):032d}"
                gateway.received.append({**form, "sid": sid})
                return self._json(201, {"sid": sid, "status": "queued"})

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
