"""A local HTTP server on 127.0.0.1 for the fetch tests: serves files from memory with
range requests (206, If-Range on the ETag), and can cut a transfer half way, answer
500 a few times, or change a file, so every path of the downloader is exercised
without the network."""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Served:
    data: bytes
    cuts: int = 0          # the next `cuts` responses stop half way through the body
    errors: int = 0        # the next `errors` requests answer 500
    ranges: bool = True    # honour Range headers

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.data).hexdigest()[:16] + '"'


@dataclass
class Request:
    path: str
    range: str | None
    if_range: str | None
    status: int = 0


@dataclass
class LocalServer:
    files: dict[str, Served] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def serve(self, path: str, data: bytes, **options) -> str:
        self.files["/" + path.lstrip("/")] = Served(data, **options)
        return self.url(path)

    def of(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == "/" + path.lstrip("/")]


def _handler(server: LocalServer):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep pytest's output clean
            pass

        def do_GET(self):  # noqa: N802 (http.server's naming)
            request = Request(self.path.split("?")[0], self.headers.get("Range"),
                              self.headers.get("If-Range"))
            server.requests.append(request)
            served = server.files.get(request.path)
            if served is None:
                request.status = 404
                self.send_error(404, "Not Found")
                return
            if served.errors:
                served.errors -= 1
                request.status = 500
                self.send_error(500, "Internal Server Error")
                return
            data, start = served.data, 0
            match = re.fullmatch(r"bytes=(\d+)-", request.range or "")
            if match and served.ranges and request.if_range in (None, served.etag):
                start = int(match.group(1))
                if start >= len(data):
                    request.status = 416
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                request.status = 206
                self.send_response(206)
                self.send_header("Content-Range",
                                 f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                request.status = 200
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", served.etag)
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if served.cuts:
                served.cuts -= 1
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


def start(server: LocalServer) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Start ``server`` on a free port of 127.0.0.1 in a daemon thread."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    return httpd, thread
