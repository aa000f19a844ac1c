"""The agent's configuration: a YAML file (`--config`) and command-line flags that override it.

The file is validated with pydantic and every problem is one `FILE:LINE: field: problem` line.
Paths in it (source trees, credential files, file_sd patterns) are relative to the file, as
Prometheus reads them. Credentials are only ever named here (`*_file`): their content is read
when a request is made, so they can rotate, and never enters the configuration or a log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from mapguard.errors import InputError, UsageError
from mapguard.slo.durations import Duration
from mapguard.slo.loading import read_documents, validate
from mapguard.watch.targets import (
    BasicAuth,
    Client,
    Target,
    Tls,
    static_target,
)

DEFAULT_LISTEN = "127.0.0.1:9464"
DEFAULT_INTERVAL_S = 15
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_BACKOFF_S = 120.0
DEFAULT_TOP_SITES = 20
DEFAULT_MAX_RESPONSE = 16 << 20  # on the wire, before gzip
DEFAULT_MAX_PROFILE = 64 << 20  # decompressed
DEFAULT_SD_REFRESH_S = 60.0
_SIZE = re.compile(r"(\d+)\s*(B|KiB|MiB|GiB)?")
_SIZE_UNITS = {None: 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def parse_seconds(value: object) -> float:
    """`15s`, `2m`, or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 15s or 2m, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = float(Duration.parse(value).seconds)
    else:
        raise ValueError(f"expected a duration such as 15s or 2m, got {value!r}")
    if seconds <= 0:
        raise ValueError(f"{value!r} is not a positive duration")
    return seconds


def parse_size(value: object) -> int:
    """`16MiB`, `512KiB` or a number of bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None or int(match.group(1)) <= 0:
        raise ValueError(f"expected a size such as 16MiB, 512KiB or a number of bytes, "
                         f"got {value!r}")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2)]


@dataclass(frozen=True, slots=True)
class Shard:
    """This agent's part of the fleet: shard `index` (1-based) of `count`."""

    index: int = 1
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        index, slash, count = text.partition("/")
        if not slash or not index.strip().isdigit() or not count.strip().isdigit():
            raise ValueError(f"{text!r} is not a shard; expected I/N, e.g. 2/4")
        shard = cls(int(index), int(count))
        if not 1 <= shard.index <= shard.count:
            raise ValueError(f"shard {text!r}: I must be between 1 and N")
        return shard

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True, slots=True)
class Listen:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Listen:
        host, colon, port = text.rpartition(":")
        if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"{text!r} is not HOST:PORT, e.g. 127.0.0.1:9464")
        return cls(host.strip("[]"), int(port))

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Limits:
    max_response_bytes: int = DEFAULT_MAX_RESPONSE
    max_profile_bytes: int = DEFAULT_MAX_PROFILE


@dataclass(frozen=True, slots=True)
class FileSD:
    patterns: tuple[str, ...]  # absolute glob patterns
    source: Path | None
    client: Client


@dataclass(frozen=True, slots=True)
class HttpSD:
    url: str
    refresh_seconds: float
    source: Path | None
    client: Client


@dataclass(frozen=True, slots=True)
class WatchConfig:
    listen: Listen = field(default_factory=lambda: Listen.parse(DEFAULT_LISTEN))
    interval_seconds: int = DEFAULT_INTERVAL_S
    timeout_seconds: float = DEFAULT_TIMEOUT_S
    max_backoff_seconds: float = DEFAULT_MAX_BACKOFF_S
    top_sites: int = DEFAULT_TOP_SITES
    shard: Shard = Shard()
    limits: Limits = Limits()
    server_delta: bool = False  # Go's ?seconds=N deltas instead of cumulative pulls
    workers: int | None = None  # analysis processes; None: one per CPU (0: a thread)
    targets: tuple[Target, ...] = ()
    file_sd: tuple[FileSD, ...] = ()
    http_sd: tuple[HttpSD, ...] = ()

    def has_targets(self) -> bool:
        return bool(self.targets or self.file_sd or self.http_sd)


# --- the file --------------------------------------------------------------------------------

Seconds = Annotated[float, BeforeValidator(parse_seconds)]
Size = Annotated[int, BeforeValidator(parse_size)]


def _shard(value: object) -> Shard:
    if isinstance(value, Shard):
        return value
    return Shard.parse(str(value))


def _listen(value: object) -> Listen:
    if isinstance(value, Listen):
        return value
    return Listen.parse(str(value))


def _workers(value: object) -> int | None:
    if value == "auto":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 64:
        return value
    raise ValueError(f"expected auto or a number of processes from 0 to 64, got {value!r}")


def _whole_seconds(value: object) -> int:
    seconds = parse_seconds(value)
    if seconds != int(seconds):
        raise ValueError(f"{value!r}: the interval must be whole seconds (Go's `seconds` "
                         "parameter is an integer)")
    return int(seconds)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsSpec(_Model):
    ca_file: Path | None = Field(None, description="CA bundle (PEM) to verify the target")
    cert_file: Path | None = Field(None, description="client certificate (PEM)")
    key_file: Path | None = Field(None, description="client key (PEM)")
    insecure_skip_verify: bool = Field(False, description="true or false")

    @model_validator(mode="after")
    def _pair(self) -> TlsSpec:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self


class BasicAuthSpec(_Model):
    username: str = Field(description="the user name")
    password_file: Path = Field(description="a file holding the password")


class ClientSpec(_Model):
    bearer_token_file: Path | None = Field(None, description="a file holding a bearer token")
    basic_auth: BasicAuthSpec | None = None
    tls: TlsSpec | None = None

    @model_validator(mode="after")
    def _one_auth(self) -> ClientSpec:
        if self.bearer_token_file is not None and self.basic_auth is not None:
            raise ValueError("bearer_token_file and basic_auth exclude each other")
        return self


class TargetSpec(_Model):
    url: str = Field(description="the target's base URL, e.g. http://10.0.0.5:6060")
    name: str | None = Field(None, description="the `target` label (default HOST:PORT)")
    source: Path | None = Field(None, description="the Go source tree of the target")
    metrics_url: str | None = Field(
        None, description="where its Go metrics are (default URL/metrics; \"\" for none)")
    pprof_path: str = Field("/debug/pprof", description="path of net/http/pprof")
    http: ClientSpec | None = None


class FileSDSpec(_Model):
    files: list[str] = Field(min_length=1, description="file_sd JSON or YAML files (globs)")
    source: Path | None = Field(None, description="the Go source tree of these targets")
    http: ClientSpec | None = None


class HttpSDSpec(_Model):
    url: str = Field(description="an http_sd endpoint URL")
    refresh_interval: Seconds = Field(DEFAULT_SD_REFRESH_S, description="e.g. 60s")
    source: Path | None = Field(None, description="the Go source tree of these targets")
    http: ClientSpec | None = None


class WatchSpec(_Model):
    listen: Annotated[Listen, BeforeValidator(_listen)] = Field(
        default_factory=lambda: Listen.parse(DEFAULT_LISTEN),
        description="HOST:PORT to serve /metrics on")
    interval: Annotated[int, BeforeValidator(_whole_seconds)] = Field(
        DEFAULT_INTERVAL_S, description="whole seconds, e.g. 15s")
    timeout: Seconds = Field(DEFAULT_TIMEOUT_S, description="e.g. 10s")
    max_backoff: Seconds = Field(DEFAULT_MAX_BACKOFF_S, description="e.g. 2m")
    top_sites: int = Field(DEFAULT_TOP_SITES, ge=1, le=1000,
                           description="sites per target exported by name (1-1000)")
    shard: Annotated[Shard, BeforeValidator(_shard)] = Field(
        Shard(), description="I/N, e.g. 2/4")
    delta: Literal["cumulative", "server"] = Field(
        "cumulative", description="cumulative (pulls differenced here) or server (Go's "
        "?seconds=N)")
    source: Path | None = Field(None, description="default Go source tree for all targets")
    workers: Annotated[int | None, BeforeValidator(_workers)] = Field(
        None, description="auto, or a number of analysis processes (0: a thread)")
    max_response_bytes: Size = Field(DEFAULT_MAX_RESPONSE, description="e.g. 16MiB")
    max_profile_bytes: Size = Field(DEFAULT_MAX_PROFILE, description="e.g. 64MiB")
    http: ClientSpec | None = None
    targets: list[TargetSpec] = Field(default_factory=list)
    file_sd: list[FileSDSpec] = Field(default_factory=list)
    http_sd: list[HttpSDSpec] = Field(default_factory=list)


def _client(spec: ClientSpec | None, base: Path, default: Client) -> Client:
    if spec is None:
        return default
    tls = None
    if spec.tls is not None:
        tls = Tls(_under(base, spec.tls.ca_file), _under(base, spec.tls.cert_file),
                  _under(base, spec.tls.key_file), spec.tls.insecure_skip_verify)
    basic = None
    if spec.basic_auth is not None:
        basic = BasicAuth(spec.basic_auth.username, base / spec.basic_auth.password_file)
    return Client(_under(base, spec.bearer_token_file), basic, tls)


def _under(base: Path, path: Path | None) -> Path | None:
    return None if path is None else base / path


def load_config(path: Path) -> WatchConfig:
    documents = read_documents(path)
    if len(documents) != 1:
        raise InputError(path, "holds several YAML documents", expected="one configuration")
    document = documents[0]
    spec = validate(WatchSpec, document)
    base = path.parent
    client = _client(spec.http, base, Client())
    source = _under(base, spec.source)
    targets = []
    for index, item in enumerate(spec.targets):
        try:
            targets.append(static_target(
                item.url, name=item.name, source=_under(base, item.source) or source,
                metrics_url=item.metrics_url, pprof_path=item.pprof_path,
                client=_client(item.http, base, client)))
        except ValueError as exc:
            raise document.error(("targets", index, "url"), str(exc)) from None
    return WatchConfig(
        listen=spec.listen, interval_seconds=spec.interval, timeout_seconds=spec.timeout,
        max_backoff_seconds=spec.max_backoff, top_sites=spec.top_sites, shard=spec.shard,
        limits=Limits(spec.max_response_bytes, spec.max_profile_bytes),
        server_delta=spec.delta == "server", workers=spec.workers,
        targets=tuple(targets),
        file_sd=tuple(FileSD(tuple(str(base / pattern) for pattern in sd.files),
                             _under(base, sd.source) or source, _client(sd.http, base, client))
                      for sd in spec.file_sd),
        http_sd=tuple(HttpSD(sd.url, sd.refresh_interval, _under(base, sd.source) or source,
                             _client(sd.http, base, client))
                      for sd in spec.http_sd),
    )


@dataclass(frozen=True, slots=True)
class Overrides:
    """What the command line says; None (or empty) keeps the file's value."""

    targets: tuple[str, ...] = ()
    source: Path | None = None
    file_sd: tuple[Path, ...] = ()
    http_sd: tuple[str, ...] = ()
    shard: Shard | None = None
    interval_seconds: int | None = None
    timeout_seconds: float | None = None
    listen: Listen | None = None
    top_sites: int | None = None
    server_delta: bool | None = None


def apply_overrides(config: WatchConfig, flags: Overrides) -> WatchConfig:
    """Flags win over the file; `--source` also becomes the source of the file's targets
    that name none."""
    source = flags.source
    targets = tuple(target if target.source or source is None else replace(target, source=source)
                    for target in config.targets)
    try:
        targets += tuple(static_target(url, source=source) for url in flags.targets)
    except ValueError as exc:
        raise UsageError(f"--target: {exc}") from None
    file_sd = config.file_sd + tuple(
        FileSD((str(path),), source, Client()) for path in flags.file_sd)
    http_sd = config.http_sd + tuple(
        HttpSD(url, DEFAULT_SD_REFRESH_S, source, Client()) for url in flags.http_sd)
    updates: dict[str, Any] = {
        name: value for name, value in (
            ("shard", flags.shard), ("interval_seconds", flags.interval_seconds),
            ("timeout_seconds", flags.timeout_seconds), ("listen", flags.listen),
            ("top_sites", flags.top_sites), ("server_delta", flags.server_delta))
        if value is not None}
    return replace(config, targets=targets, file_sd=file_sd, http_sd=http_sd, **updates)
