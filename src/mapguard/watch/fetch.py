"""HTTP for the agent: capped, timed requests whose every failure is a `ScrapeError` with a reason.

Bodies are read as they arrive and refused past `max_response_bytes` on the wire; gzip (a
`Content-Encoding`, or a gzip'd payload unless its parser inflates it) is inflated while it
streams and refused past `max_profile_bytes`, so a gzip bomb costs one small read and an error
for that target only.
Credentials are read from their files for each request (they may rotate) and appear in no
message: errors name the file, never its content.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from mapguard.formats.pprof import GZIP_MAGIC
from mapguard.watch.config import Limits
from mapguard.watch.failures import ScrapeError
from mapguard.watch.inflate import Inflater
from mapguard.watch.targets import Client, Tls

KEEPALIVE_SECONDS = 120.0  # longer than an interval: a target's connection is reused


@dataclass(frozen=True, slots=True)
class Deadline:
    connect: float  # connect, write and pool timeouts
    total: float  # the whole request, body included (a slow drip cannot stretch it)


class Clients:
    """A small connection pool per origin (scheme, host, port), so that keeping a fleet's
    connections alive costs nothing per request (httpcore scans a pool's connections on every
    request: one pool for 500 targets made that the agent's main cost), and one TLS context per
    TLS setting, shared by the pools that use it."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._contexts: dict[Tls | None, ssl.SSLContext] = {}
        self._clients: dict[tuple[str, Tls | None], httpx.AsyncClient] = {}

    def _client(self, url: str, tls: Tls | None) -> httpx.AsyncClient:
        key = (_origin(url), tls)
        client = self._clients.get(key)
        if client is None:
            context = self._contexts.get(tls)
            if context is None:
                context = self._contexts[tls] = _ssl_context(tls)
            client = httpx.AsyncClient(
                verify=context, follow_redirects=True, trust_env=False,
                limits=httpx.Limits(max_connections=8, max_keepalive_connections=4,
                                    keepalive_expiry=KEEPALIVE_SECONDS),
                headers={"User-Agent": "mapguard-watch"})
            self._clients[key] = client
        return client

    async def forget(self, url: str) -> None:
        """Close the pools of `url`'s origin (a target that is no longer watched)."""
        origin = _origin(url)
        for key in [key for key in self._clients if key[0] == origin]:
            await self._clients.pop(key).aclose()

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def request(self, url: str, settings: Client, deadline: Deadline, *,
                      params: Mapping[str, str] | None = None, accept_gzip: bool = False,
                      inflate_payload: bool = True) -> bytes:
        """GET `url`; the body, inflated if gzip'd. With `inflate_payload` False, a gzip'd body
        that is the payload itself (a pprof profile, not a Content-Encoding) is left to the
        caller, who inflates it where it is parsed (a worker process) with the same cap."""
        headers, auth = _credentials(settings)
        if accept_gzip:
            headers["Accept-Encoding"] = "gzip"
        try:
            client = self._client(url, settings.tls)
        except (OSError, ssl.SSLError) as exc:
            raise ScrapeError("credentials", f"TLS files for {url}: {_os_text(exc)}") from None
        timeout = httpx.Timeout(deadline.connect, read=deadline.total)
        try:
            async with asyncio.timeout(deadline.total):
                return await self._read(client, url, timeout, headers, auth, params,
                                        inflate_payload)
        except TimeoutError:
            raise ScrapeError("timeout", f"{url}: no complete answer within "
                             f"{deadline.total:g} s") from None
        except httpx.TimeoutException:
            raise ScrapeError("timeout", f"{url}: timed out") from None
        except httpx.HTTPError as exc:
            raise ScrapeError("connect", f"{url}: {_http_text(exc)}") from None

    async def _read(self, client: httpx.AsyncClient, url: str, timeout: httpx.Timeout,
                    headers: dict[str, str], auth: httpx.BasicAuth | None,
                    params: Mapping[str, str] | None, inflate_payload: bool) -> bytes:
        cap = self.limits.max_response_bytes
        async with client.stream("GET", url, params=params, headers=headers, auth=auth,
                                 timeout=timeout) as response:
            if response.status_code != 200:
                raise ScrapeError("http", f"{url}: HTTP {response.status_code} "
                                 f"{response.reason_phrase}".rstrip(), response.status_code)
            gzip_encoded = response.headers.get("Content-Encoding", "").lower() == "gzip"
            head: list[bytes] = []  # the first bytes, until they tell gzip from plain
            inflater: Inflater | None = None
            plain: list[bytes] | None = None
            received = 0
            async for chunk in response.aiter_raw():
                received += len(chunk)
                if received > cap:
                    raise ScrapeError("too_large", f"{url}: answer larger than the {cap} byte "
                                     "cap (max_response_bytes)")
                if inflater is not None:
                    inflater.feed(chunk)
                elif plain is not None:
                    plain.append(chunk)
                elif received >= len(GZIP_MAGIC):
                    start = b"".join([*head, chunk])
                    if gzip_encoded or (inflate_payload and start.startswith(GZIP_MAGIC)):
                        inflater = Inflater(self.limits.max_profile_bytes, url)
                        inflater.feed(start)
                    else:
                        plain = [start]
                else:
                    head.append(chunk)
        if inflater is not None:
            return inflater.finish()
        return b"".join(plain if plain is not None else head)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _ssl_context(tls: Tls | None) -> ssl.SSLContext:
    context = ssl.create_default_context(
        cafile=str(tls.ca_file) if tls is not None and tls.ca_file else None)
    if tls is None:
        return context
    if tls.cert_file is not None and tls.key_file is not None:
        context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    if tls.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _credentials(settings: Client) -> tuple[dict[str, str], httpx.BasicAuth | None]:
    if settings.bearer_token_file is not None:
        token = _secret(settings.bearer_token_file)
        return {"Authorization": f"Bearer {token}"}, None
    if settings.basic_auth is not None:
        password = _secret(settings.basic_auth.password_file)
        return {}, httpx.BasicAuth(settings.basic_auth.username, password)
    return {}, None


def _secret(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        raise ScrapeError("credentials", f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ScrapeError("credentials", f"{path}: cannot read: {_os_text(exc)}") from None


def _os_text(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or getattr(exc, "reason", None) or type(exc).__name__


def _http_text(exc: httpx.HTTPError) -> str:
    # httpx messages carry the URL and the low-level error, never headers.
    text = str(exc).strip()
    return text or type(exc).__name__
