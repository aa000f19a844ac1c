"""HTTP for the agent: size caps before and after gzip, credentials from files, TLS."""

from __future__ import annotations

import asyncio
import base64
import gzip
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from mapguard.watch.config import Limits
from mapguard.watch.failures import ScrapeError
from mapguard.watch.fetch import Clients, Deadline
from mapguard.watch.targets import BasicAuth, Client, Tls
from tests.realparts import require_executable

from .fakes import gzip_bomb

LIMITS = Limits(max_response_bytes=1 << 20, max_profile_bytes=4 << 20)
DEADLINE = Deadline(5.0, 10.0)
ANONYMOUS = Client()


class _Recorder(BaseHTTPRequestHandler):
    bodies: ClassVar[dict[str, tuple[bytes, dict[str, str]]]] = {}
    seen: ClassVar[list[str | None]] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Authorization"))
        body, headers = self.bodies.get(self.path, (b"not found", {}))
        self.send_response(200 if self.path in self.bodies else 404)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)


@contextmanager
def server(bodies: dict[str, tuple[bytes, dict[str, str]]],
           context: ssl.SSLContext | None = None) -> Iterator[tuple[str, list[str | None]]]:
    handler = type("Handler", (_Recorder,), {"bodies": bodies, "seen": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if context is not None:
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    scheme = "https" if context else "http"
    try:
        yield f"{scheme}://127.0.0.1:{httpd.server_address[1]}", handler.seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def fetch(url: str, settings: Client = ANONYMOUS, **kwargs: bool) -> bytes:
    async def go() -> bytes:
        clients = Clients(LIMITS)
        try:
            return await clients.request(url, settings, DEADLINE, **kwargs)
        finally:
            await clients.aclose()
    return asyncio.run(go())


def test_gzip_is_inflated_and_plain_bodies_pass() -> None:
    payload = b"x" * 100_000
    with server({"/gz": (gzip.compress(payload) + gzip.compress(b"y"), {}),
                 "/enc": (gzip.compress(b"metrics"), {"Content-Encoding": "gzip"}),
                 "/plain": (b"ok", {})}) as (url, _):
        assert fetch(f"{url}/gz") == payload + b"y"
        assert fetch(f"{url}/enc", accept_gzip=True) == b"metrics"
        assert fetch(f"{url}/plain") == b"ok"


@pytest.mark.parametrize(("body", "reason", "message"), [
    (b"\0" * (2 << 20), "too_large", "larger than the 1048576 byte cap"),
    (gzip_bomb(64 << 20), "too_large", "decompresses to more than the 4194304 byte cap"),
    (gzip.compress(b"z" * 1000, mtime=0)[:-12], "decode", "truncated gzip"),
    (b"\x1f\x8b" + b"\0" * 50, "decode", "corrupt gzip"),
], ids=["wire", "bomb", "truncated", "corrupt"])
def test_caps_before_and_after_gzip(body: bytes, reason: str, message: str) -> None:
    with server({"/p": (body, {})}) as (url, _), pytest.raises(ScrapeError) as caught:
        fetch(f"{url}/p")
    assert caught.value.reason == reason
    assert message in str(caught.value)


def test_http_errors_carry_the_status() -> None:
    with server({}) as (url, _), pytest.raises(ScrapeError) as caught:
        fetch(f"{url}/missing")
    assert (caught.value.reason, caught.value.status) == ("http", 404)


def test_credentials_come_from_files_each_request_and_never_show(tmp_path: Path) -> None:
    token = tmp_path / "token"
    password = tmp_path / "password"
    token.write_text("first-token\n")
    password.write_text("pa55")
    with server({"/p": (b"ok", {})}) as (url, seen):
        fetch(f"{url}/p", Client(bearer_token_file=token))
        token.write_text("rotated-token")
        fetch(f"{url}/p", Client(bearer_token_file=token))
        fetch(f"{url}/p", Client(basic_auth=BasicAuth("watch", password)))
        fetch(f"{url}/p")
    assert seen == ["Bearer first-token", "Bearer rotated-token",
                    "Basic " + base64.b64encode(b"watch:pa55").decode(), None]
    token.write_bytes(b"\xff\xfe")
    for settings, problem in ((Client(bearer_token_file=tmp_path / "gone"), "cannot read"),
                              (Client(bearer_token_file=tmp_path), "cannot read"),
                              (Client(bearer_token_file=token), "not UTF-8")):
        with pytest.raises(ScrapeError) as caught:
            fetch("http://127.0.0.1:1/p", settings)
        assert caught.value.reason == "credentials" and problem in str(caught.value)


def _certificate(directory: Path) -> tuple[Path, Path]:
    openssl = require_executable("openssl", "apt-get install openssl")
    cert, key = directory / "cert.pem", directory / "key.pem"
    proc = subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)], capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return cert, key


def test_tls_with_a_ca_file_and_without(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with server({"/p": (b"secret data", {})}, context) as (url, _):
        assert fetch(f"{url}/p", Client(tls=Tls(ca_file=cert))) == b"secret data"
        assert fetch(f"{url}/p", Client(tls=Tls(insecure_skip_verify=True))) == b"secret data"
        with pytest.raises(ScrapeError) as caught:
            fetch(f"{url}/p")
        assert caught.value.reason == "connect"
    with pytest.raises(ScrapeError) as caught:
        fetch(f"{url}/p", Client(tls=Tls(ca_file=tmp_path / "missing.pem")))
    assert caught.value.reason == "credentials"
