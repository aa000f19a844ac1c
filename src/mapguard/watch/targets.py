"""What the agent watches: one Go process's pprof and metrics endpoints, and how to reach them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_PPROF_PATH = "/debug/pprof"
DEFAULT_METRICS_PATH = "/metrics"


@dataclass(frozen=True, slots=True)
class Tls:
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure_skip_verify: bool = False


@dataclass(frozen=True, slots=True)
class BasicAuth:
    username: str
    password_file: Path


@dataclass(frozen=True, slots=True)
class Client:
    """How to talk to a target: credentials by file name only, and TLS settings."""

    bearer_token_file: Path | None = None
    basic_auth: BasicAuth | None = None
    tls: Tls | None = None


@dataclass(frozen=True, slots=True)
class Target:
    name: str  # the `target` label
    address: str  # HOST:PORT, what `--shard` hashes (as Prometheus' hashmod on __address__)
    base_url: str  # scheme://host:port[/prefix], no trailing slash
    pprof_path: str = DEFAULT_PPROF_PATH
    metrics_url: str | None = None  # None: the target has no Go metrics to read
    source: Path | None = None
    client: Client = Client()

    @property
    def allocs_url(self) -> str:
        return f"{self.base_url}{self.pprof_path}/allocs"

    @property
    def symbol_url(self) -> str:
        return f"{self.base_url}{self.pprof_path}/symbol"


def _check_url(url: str, what: str) -> tuple[str, str, str]:
    """(scheme, host:port, path) of an http(s) URL without credentials, query or fragment."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{what} must not carry credentials; use basic_auth or "
                         "bearer_token_file in the configuration")
    if parts.query or parts.fragment:
        raise ValueError(f"{url!r}: no query or fragment, only the base URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValueError(f"{url!r} has a bad port") from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return parts.scheme, f"{host}:{port}", parts.path.rstrip("/")


def static_target(url: str, *, name: str | None = None, source: Path | None = None,
                  metrics_url: str | None = None, pprof_path: str = DEFAULT_PPROF_PATH,
                  client: Client = Client()) -> Target:
    """A target from its URL. A URL that ends in the pprof path (`.../debug/pprof`) is taken as
    the pprof endpoint itself; metrics default to /metrics on the same base."""
    scheme, address, path = _check_url(url, "a target URL")
    pprof_path = "/" + pprof_path.strip("/") if pprof_path.strip("/") else ""
    if pprof_path and path.endswith(pprof_path):
        path = path[: -len(pprof_path)]
    base = f"{scheme}://{address}{path}"
    if metrics_url is None:
        metrics = f"{base}{DEFAULT_METRICS_PATH}"
    elif metrics_url == "":
        metrics = None
    else:
        _check_url(metrics_url, "metrics_url")
        metrics = metrics_url
    return Target(name or address, address, base, pprof_path, metrics, source, client)


def discovered_target(address: str, labels: Mapping[str, str], *, source: Path | None,
                      client: Client) -> Target:
    """A target from a file_sd/http_sd group: `HOST:PORT` plus the group's labels. Read:
    `__scheme__` (http), `__metrics_path__` (/metrics; empty for none), `__pprof_path__`
    (/debug/pprof) and `target` (the `target` label; default HOST:PORT)."""
    if "/" in address or not address.strip():
        raise ValueError(f"{address!r} is not HOST:PORT")
    scheme = labels.get("__scheme__", "http")
    metrics_path = labels.get("__metrics_path__", DEFAULT_METRICS_PATH)
    _, checked, _ = _check_url(f"{scheme}://{address}", "a target")
    base = f"{scheme}://{checked}"
    metrics = f"{base}/{metrics_path.lstrip('/')}" if metrics_path else ""
    return static_target(base, name=labels.get("target") or checked, source=source,
                         metrics_url=metrics, pprof_path=labels.get("__pprof_path__",
                                                                    DEFAULT_PPROF_PATH),
                         client=client)
