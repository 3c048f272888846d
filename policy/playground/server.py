"""The playground's web server: the standard library's `ThreadingHTTPServer`, a page from
`static/`, and a small JSON API over `Workspace`.

The standard library is enough here: one local user, a handful of JSON endpoints, no
templates, no sessions. A server library would add a dependency to guard the same few
headers. Every request passes `Guard` first (security.py); the static files are read once
at start into a fixed table, so no request path ever reaches the file system.
"""

from __future__ import annotations

import json
import socket
import sys
import traceback
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from ..attributes import KINDS, KNOWN_KEYS
from . import diffing
from .security import REQUEST_HEADERS, Guard, new_token
from .workspace import BadRequest, Workspace

MAX_BODY = 40 * 1024 * 1024  # above the rules parser's own limit (32 MiB)
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'",
}

Json = dict[str, Any]


def static_files() -> dict[str, bytes]:
    """Every file of the package's `static/` folder, by name, read once."""
    folder = resources.files(__package__ or "policy.playground") / "static"
    return {f.name: f.read_bytes() for f in folder.iterdir() if f.is_file()}


def _get_api(ws: Workspace) -> dict[str, Callable[[], Json]]:
    return {
        "/api/file": lambda: ws.read().to_dict() | {"name": ws.name},
        "/api/version": lambda: {"version": ws.version()},
        "/api/presets": lambda: {
            "presets": ws.presets(),
            "kinds": list(KINDS),
            "attributes": sorted(KNOWN_KEYS),
        },
    }


def _post_api(ws: Workspace) -> dict[str, Callable[[Json], Json]]:
    return {
        "/api/check": lambda b: ws.check(_text(b)),
        "/api/explain": lambda b: ws.explain(_text(b), b.get("caller")),
        "/api/test": lambda b: ws.run_tests(_text(b)),
        "/api/diff": lambda b: diffing.compare(ws, _text(b)),
        "/api/save": lambda b: ws.save(_text(b), _base(b), b.get("confirm") is True),
    }


def _text(body: Json) -> str:
    text = body.get("text")
    if not isinstance(text, str):
        raise BadRequest("the request has no `text`")
    return text


def _base(body: Json) -> str | None:
    base = body.get("base")
    return base if isinstance(base, str) else None


class PlaygroundServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, ws: Workspace, host: str = "127.0.0.1", port: int = 0) -> None:
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), Handler)
        self.ws = ws
        self.host = host
        self.token = new_token()
        self.guard = Guard(host, self.server_address[1], self.token)
        self.static = static_files()
        self.get_api = _get_api(ws)
        self.post_api = _post_api(ws)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A browser that drops a kept-alive connection (a closed tab) is not an error."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        shown = "[::1]" if shown == "::" else f"[{shown}]" if ":" in shown else shown
        return f"http://{shown}:{self.port}/?token={self.token}"


class Handler(BaseHTTPRequestHandler):
    server: PlaygroundServer
    server_version = "sip-policy-playground"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: request lines would print the token."""

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        seen = {name: self.headers.get(name) for name in REQUEST_HEADERS}
        why = self.server.guard.refusal({k: v for k, v in seen.items() if v is not None}, url.query)
        if why is not None:
            self._send(HTTPStatus.FORBIDDEN, {"error": why})
            return
        try:
            if method == "GET":
                self._get(url.path)
            else:
                self._post(url.path)
        except BadRequest as exc:
            self._send(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        except Exception as exc:  # a bug: say so on the page and in the terminal
            traceback.print_exc(file=sys.stderr)
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"internal error: {exc!r}"})

    def _get(self, path: str) -> None:
        if path in self.server.get_api:
            self._send(HTTPStatus.OK, self.server.get_api[path]())
        elif path == "/":
            page = self.server.static["index.html"].replace(
                b"{{token}}", self.server.token.encode()
            )
            self._send_bytes(HTTPStatus.OK, page, TYPES[".html"])
        elif path.startswith("/static/") and path[8:] in self.server.static:
            name = path[8:]
            kind = TYPES.get(name[name.rfind(".") :], "application/octet-stream")
            self._send_bytes(HTTPStatus.OK, self.server.static[name], kind)
        else:
            self._send(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def _post(self, path: str) -> None:
        action = self.server.post_api.get(path)
        if action is None:
            self._send(HTTPStatus.NOT_FOUND, {"error": "not found"})
            return
        if self.headers.get_content_type() != "application/json":
            self._send(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"error": "send JSON"})
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._send(HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length is required"})
            return
        if not 0 <= length <= MAX_BODY:
            self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "the request is too large"})
            return
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            raise BadRequest("the request is not JSON") from None
        if not isinstance(body, dict):
            raise BadRequest("the request must be a JSON object")
        self._send(HTTPStatus.OK, action(body))

    def _send(self, status: HTTPStatus, body: Json) -> None:
        data = json.dumps(body, ensure_ascii=False, default=str).encode("utf-8")
        self._send_bytes(status, data, "application/json; charset=utf-8")

    def _send_bytes(self, status: HTTPStatus, data: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for name, value in HEADERS.items():
            self.send_header(name, value)
        if status >= 400:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)
