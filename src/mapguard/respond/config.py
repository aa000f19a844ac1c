"""respond.yaml: what to run for which alerts, and the guard rails around it.

```yaml
mode: dry-run                  # or act; dry-run (log, audit, run nothing) until you say act
listen: 127.0.0.1:9466         # any other address needs token_file
token_file: respond.token      # bearer token Alertmanager sends (http_config.authorization)
tls: {cert_file: respond.crt, key_file: respond.key}   # HTTPS, for anything but loopback
kill_switch_file: /run/mapguard-respond.off   # no action starts while this file exists
audit: respond-audit.sqlite    # default: $XDG_STATE_HOME/mapguard/respond.sqlite
kubeconfig: ~/.kube/config     # needed by `scale` actions
defaults: {timeout: 30s, cooldown: 10m, max_runs: {count: 3, per: 1h}}
actions:
  - name: shed-load
    matchers: ['alertname="MapguardMapAllocSpike"', 'target="riskd"']
    command: [/usr/local/bin/shed-load, "--site={{ labels.site }}"]
    on_resolve:
      command: [/usr/local/bin/shed-load, --stop, "--site={{ labels.site }}"]
```

Unknown keys are errors; every problem is one line naming the file, its line and the field.
Relative paths are read from the configuration file's directory. Programs are looked up when
the configuration is read, so a typo fails at start-up, not at 3 a.m.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from mapguard.errors import InputError
from mapguard.respond.templates import JsonTemplate, Template, compile_json, is_template
from mapguard.slo.durations import Duration
from mapguard.slo.loading import Document, read_documents, validate
from mapguard.slo.promql import Matcher
from mapguard.slo.spec_fields import DurationField, DurationOrZero

DEFAULT_LISTEN = "127.0.0.1:9466"
DEFAULT_PATH = "/alerts"
# Variables a command gets from `mapguard respond`'s own environment unless told otherwise;
# everything else (cloud credentials, tokens, KUBECONFIG) stays behind.
PASSED_BY_DEFAULT = ("PATH", "HOME", "LANG", "LC_ALL", "TZ")
MIN_TOKEN_LENGTH = 16
KUBE_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
ACTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


class Mode(StrEnum):
    DRY_RUN = "dry-run"
    ACT = "act"


# --- the file's schema ------------------------------------------------------------------------

class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _template(text: str) -> str:
    Template.compile(text)
    return text


# Programs that hand their arguments to a shell: a label value in their arguments would reach
# one (`sh -c "... {{ labels.x }}"`, `ssh host cmd {{ labels.x }}`). Not a complete list of
# interpreters (python -c, perl -e...): the point is to stop the common mistake.
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish", "csh", "tcsh",
                    "busybox", "ssh", "su"})


def _argv(items: list[str]) -> list[str]:
    if not items:
        raise ValueError("an empty command")
    if is_template(items[0]):
        raise ValueError("the program (first element) is a template; only arguments may be")
    for item in items[1:]:
        _template(item)
    if Path(items[0]).name in SHELLS and any(is_template(item) for item in items[1:]):
        raise ValueError(f"{Path(items[0]).name} would read alert values as shell code; run a "
                         "script and give it the values as its own arguments")
    return items


_MATCHER = re.compile(r"\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|!~|!=|=)\s*(.*?)\s*", re.DOTALL)
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


def parse_matcher(text: str) -> Matcher:
    """One Alertmanager matcher: `name="value"`, `name=~"regex"` (anchored), `!=`, `!~`;
    the value may be unquoted. Raise ValueError saying what is wrong."""
    found = _MATCHER.fullmatch(text)
    if found is None:
        raise ValueError(f"{text!r} is not a label matcher such as alertname=\"X\"")
    name, op, value = found.groups()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = _unquote(text, value[1:-1])
    elif '"' in value:
        raise ValueError(f"{text!r}: unbalanced quotes")
    if op in {"=~", "!~"}:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"{text!r}: not a regular expression: {exc}") from None
    return Matcher(name, op, value)


def _unquote(text: str, quoted: str) -> str:
    out, chars = [], iter(quoted)
    for char in chars:
        if char == '"':
            raise ValueError(f"{text!r}: unescaped quote in the value")
        if char == "\\":
            escaped = next(chars, "")
            if escaped not in _ESCAPES:
                raise ValueError(f"{text!r}: unknown escape \\{escaped}")
            char = _ESCAPES[escaped]
        out.append(char)
    return "".join(out)


def _matcher_text(text: str) -> str:
    parse_matcher(text)
    return text


def _url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"{text!r} is not an http(s) URL")
    if is_template(text):
        raise ValueError("the URL is a template; put alert values in the JSON body")
    return text


def _action_name(name: str) -> str:
    if not ACTION_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a name of letters, digits, '-', '_', '.'")
    return name


Argv = Annotated[list[str], AfterValidator(_argv)]
TemplateText = Annotated[str, AfterValidator(_template)]
MatcherText = Annotated[str, AfterValidator(_matcher_text)]
Url = Annotated[str, AfterValidator(_url)]
ActionName = Annotated[str, AfterValidator(_action_name)]


class _MaxRuns(_Model):
    count: int = Field(ge=1, description="runs allowed per window, e.g. 3")
    per: DurationField = Field(description="a duration such as 1h")


class _Http(_Model):
    url: Url = Field(description="an http(s) URL (no template)")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    json_body: Any = Field(default=None, alias="json",
                           description="a JSON body whose string values may be templates")
    headers: dict[str, str] = Field(default_factory=dict, description="header names to text")
    bearer_token_file: str | None = Field(default=None, description="a file holding a token")


class _Scale(_Model):
    kind: Literal["deployment", "statefulset", "replicaset"] = "deployment"
    name: TemplateText = Field(description="the object's name (may be a template)")
    namespace: TemplateText | None = Field(default=None, description="a namespace")
    replicas: int = Field(ge=0, description="the replica count to scale to")
    context: str | None = Field(default=None, description="a kubeconfig context")


class _Step(_Model):
    command: Argv | None = Field(default=None, description="a list: program, then arguments")
    http: _Http | None = None
    scale: _Scale | None = None
    timeout: DurationField | None = Field(default=None, description="a duration such as 30s")

    @model_validator(mode="after")
    def _one_kind(self) -> _Step:
        kinds = [k for k in ("command", "http", "scale") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("exactly one of command, http, scale is needed"
                             + (f" (found {', '.join(kinds)})" if kinds else ""))
        return self


class _Action(_Step):
    name: ActionName = Field(description="a name for the audit log, e.g. shed-load")
    matchers: list[MatcherText] = Field(
        min_length=1, description='Alertmanager-style label matchers, e.g. alertname="X"')
    cooldown: DurationOrZero | None = Field(default=None, description="a duration such as 10m")
    max_runs: _MaxRuns | None = None
    on_resolve: _Step | None = None


class _Defaults(_Model):
    timeout: DurationField = Duration.parse("30s")
    cooldown: DurationOrZero = Duration.parse("10m")
    max_runs: _MaxRuns = _MaxRuns(count=3, per=Duration.parse("1h"))


class _Tls(_Model):
    cert_file: str = Field(description="a PEM certificate (chain) file")
    key_file: str = Field(description="its PEM private key file")


class _Environment(_Model):
    pass_names: list[str] = Field(default_factory=list, alias="pass",
                                  description="names of variables to pass on")
    set_values: dict[str, str] = Field(default_factory=dict, alias="set",
                                       description="variables to set, name to text")


class _Config(_Model):
    mode: Mode = Mode.DRY_RUN
    listen: str = Field(default=DEFAULT_LISTEN, description="HOST:PORT, e.g. 127.0.0.1:9466")
    path: str = Field(default=DEFAULT_PATH, pattern=r"^/[A-Za-z0-9/_.-]*$",
                      description="the URL path Alertmanager posts to, e.g. /alerts")
    token_file: str | None = Field(default=None, description="a file holding the token")
    tls: _Tls | None = None
    max_request_bytes: int = Field(default=1 << 20, ge=1024, le=64 << 20,
                                   description="bytes, 1024 to 67108864")
    max_concurrent: int = Field(default=2, ge=1, le=64, description="1 to 64")
    max_queued: int = Field(default=32, ge=0, le=10000, description="0 to 10000")
    max_output_bytes: int = Field(default=64 << 10, ge=0, le=16 << 20,
                                  description="bytes kept of an action's output")
    kill_switch_file: str | None = None
    audit: str | None = Field(default=None, description="the SQLite audit database's path")
    kubeconfig: str | None = None
    kubectl: str = "kubectl"
    environment: _Environment = _Environment()
    defaults: _Defaults = _Defaults()
    actions: list[_Action] = Field(min_length=1, description="at least one action")

    @model_validator(mode="after")
    def _unique_names(self) -> _Config:
        names = [action.name for action in self.actions]
        doubled = sorted({name for name in names if names.count(name) > 1})
        if doubled:
            raise ValueError(f"action names must be unique: {', '.join(doubled)}")
        return self


# --- what the receiver runs with -------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Command:
    program: str  # resolved path
    arguments: tuple[Template, ...]


@dataclass(frozen=True, slots=True)
class HttpCall:
    method: str
    url: str
    body: JsonTemplate
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Scale:
    kubectl: str  # resolved path
    kubeconfig: str
    context: str | None
    kind: str
    name: Template
    namespace: Template | None
    replicas: int


@dataclass(frozen=True, slots=True)
class Step:
    what: Command | HttpCall | Scale
    timeout: Duration


@dataclass(frozen=True, slots=True)
class Action:
    name: str
    matchers: tuple[Matcher, ...]
    fire: Step
    on_resolve: Step | None
    cooldown: Duration
    max_runs: int
    max_runs_window: Duration

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(matcher.matches(labels) for matcher in self.matchers)


@dataclass(frozen=True, slots=True)
class Listen:
    host: str
    port: int

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class RespondConfig:
    source: str
    mode: Mode
    listen: Listen
    path: str
    token: str | None
    tls: ssl.SSLContext | None
    max_request_bytes: int
    max_concurrent: int
    max_queued: int
    max_output_bytes: int
    kill_switch_file: Path | None
    audit_path: Path
    environment: Mapping[str, str]
    workdir: str  # commands run here: the configuration's directory
    actions: tuple[Action, ...]
    warnings: tuple[str, ...] = field(default=())


def is_loopback(host: str) -> bool:
    """`localhost`, or an IPv4 or IPv6 loopback address."""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


TOKEN_EXPECTED = f"one line of at least {MIN_TOKEN_LENGTH} characters, no spaces"


def read_token(path: Path) -> str:
    """The bearer token in a file; ValueError saying what is wrong with it."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text") from None
    if len(token) < MIN_TOKEN_LENGTH or any(ch.isspace() for ch in token):
        raise ValueError(f"{path} does not hold a token (expected {TOKEN_EXPECTED})")
    return token


def parse_listen(text: str) -> Listen:
    """`HOST:PORT` or `[IPv6]:PORT`; raise ValueError saying what was expected."""
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:9466)")
    return Listen(host, int(port))


def default_audit_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "mapguard" / "respond.sqlite"


def load_config(path: Path, *, listen: str | None = None, dry_run: bool = False,
                environ: Mapping[str, str] | None = None) -> RespondConfig:
    """Read and check respond.yaml; `listen` and `dry_run` are the command line's overrides."""
    documents = _read(path)
    if len(documents) > 1:
        raise InputError(str(path), "several YAML documents", expected="one configuration")
    document = documents[0]
    spec = validate(_Config, document)
    return _Reader(path, document, spec, os.environ if environ is None else environ) \
        .config(listen, dry_run)


@dataclass
class _Reader:
    path: Path
    document: Document
    spec: _Config
    environ: Mapping[str, str]
    warnings: list[str] = field(default_factory=list)

    def config(self, listen_override: str | None, dry_run: bool) -> RespondConfig:
        spec = self.spec
        listen = self._listen(listen_override)
        token = self._token(spec.token_file, ("token_file",)) if spec.token_file else None
        if token is None and not listen.loopback:
            raise self.document.error(
                ("listen",) if listen_override is None else (),
                f"{listen} is not a loopback address and no token_file is set: mapguard "
                "respond requires a bearer token on any address other than loopback")
        tls = self._tls(spec.tls) if spec.tls is not None else None
        if tls is None and not listen.loopback:
            self.warnings.append(f"{listen} is not a loopback address and tls is not set: the "
                                 "bearer token and the alerts cross the network in clear text")
        environment = self._environment()
        actions = tuple(self._action(action, index, environment)
                        for index, action in enumerate(spec.actions))
        return RespondConfig(
            source=str(self.path),
            mode=Mode.DRY_RUN if dry_run else spec.mode,
            listen=listen,
            path=spec.path,
            token=token,
            tls=tls,
            max_request_bytes=spec.max_request_bytes,
            max_concurrent=spec.max_concurrent,
            max_queued=spec.max_queued,
            max_output_bytes=spec.max_output_bytes,
            kill_switch_file=self._path(spec.kill_switch_file) if spec.kill_switch_file
            else None,
            audit_path=self._path(spec.audit) if spec.audit else default_audit_path(),
            environment=environment,
            workdir=str(self.path.parent.resolve()),
            actions=actions,
            warnings=tuple(self.warnings),
        )

    def _path(self, text: str) -> Path:
        return _beside(self.path, text)

    def _listen(self, override: str | None) -> Listen:
        try:
            return parse_listen(override if override is not None else self.spec.listen)
        except ValueError as exc:
            if override is not None:
                raise InputError("--listen", str(exc)) from None
            raise self.document.error(("listen",), str(exc)) from None

    def _token(self, text: str, loc: tuple[str | int, ...]) -> str:
        path = self._path(text)
        try:
            token = read_token(path)
        except ValueError as exc:
            raise self.document.error(loc, str(exc)) from None
        if path.stat().st_mode & 0o077:
            self.warnings.append(f"{path}: the token file is readable by group or others "
                                 "(chmod 600 it)")
        return token

    def _tls(self, tls: _Tls) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert, key = self._path(tls.cert_file), self._path(tls.key_file)
        try:
            context.load_cert_chain(cert, key)
        except OSError as exc:  # ssl.SSLError is an OSError too
            problem = exc.strerror or getattr(exc, "reason", None) or str(exc)
            raise self.document.error(("tls",), f"cannot load {cert} and {key}: {problem}") \
                from None
        return context

    def _environment(self) -> dict[str, str]:
        names = [*PASSED_BY_DEFAULT, *self.spec.environment.pass_names]
        passed = {name: self.environ[name] for name in names if name in self.environ}
        return {**passed, **self.spec.environment.set_values}

    def _program(self, program: str, loc: tuple[str | int, ...],
                 environment: Mapping[str, str]) -> str:
        if "/" in program:
            candidate = self._path(program)
            found = str(candidate) if os.access(candidate, os.X_OK) and candidate.is_file() \
                else None
        else:
            found = shutil.which(program, path=environment.get("PATH", os.defpath))
        if found is None:
            raise self.document.error(loc, f"{program!r} is not an executable file"
                                      + ("" if "/" in program else " on the command's PATH"))
        return found

    def _step(self, step: _Step, loc: tuple[str | int, ...], environment: Mapping[str, str],
              timeout: Duration) -> Step:
        what: Command | HttpCall | Scale
        if step.command is not None:
            what = Command(self._program(step.command[0], (*loc, "command", 0), environment),
                           tuple(Template.compile(arg) for arg in step.command[1:]))
        elif step.http is not None:
            what = self._http(step.http, (*loc, "http"))
        else:
            assert step.scale is not None
            what = self._scale(step.scale, (*loc, "scale"), environment)
        return Step(what, step.timeout or timeout)

    def _http(self, http: _Http, loc: tuple[str | int, ...]) -> HttpCall:
        try:
            body = compile_json(http.json_body)
        except ValueError as exc:
            raise self.document.error((*loc, "json"), str(exc)) from None
        headers = dict(http.headers)
        if http.bearer_token_file is not None:
            token = self._token(http.bearer_token_file, (*loc, "bearer_token_file"))
            headers["Authorization"] = f"Bearer {token}"
        return HttpCall(http.method, http.url, body, headers)

    def _scale(self, scale: _Scale, loc: tuple[str | int, ...],
               environment: Mapping[str, str]) -> Scale:
        if self.spec.kubeconfig is None:
            raise self.document.error(loc, "a scale action needs `kubeconfig` (the cluster to "
                                      "scale in)")
        kubeconfig = self._path(self.spec.kubeconfig)
        if not kubeconfig.is_file():
            raise self.document.error(("kubeconfig",), f"{kubeconfig} is not a file")
        return Scale(
            kubectl=self._program(self.spec.kubectl, ("kubectl",), environment),
            kubeconfig=str(kubeconfig),
            context=scale.context,
            kind=scale.kind,
            name=Template.compile(scale.name),
            namespace=Template.compile(scale.namespace) if scale.namespace else None,
            replicas=scale.replicas,
        )

    def _action(self, action: _Action, index: int, environment: Mapping[str, str]) -> Action:
        loc: tuple[str | int, ...] = ("actions", index)
        defaults = self.spec.defaults
        max_runs = action.max_runs or defaults.max_runs
        return Action(
            name=action.name,
            matchers=tuple(parse_matcher(text) for text in action.matchers),
            fire=self._step(action, loc, environment, defaults.timeout),
            on_resolve=self._step(action.on_resolve, (*loc, "on_resolve"), environment,
                                  action.timeout or defaults.timeout)
            if action.on_resolve is not None else None,
            cooldown=action.cooldown if action.cooldown is not None else defaults.cooldown,
            max_runs=max_runs.count,
            max_runs_window=max_runs.per,
        )


def audit_path(path: Path) -> Path:
    """Only where a configuration keeps its audit log (for reading it: no program lookups,
    no token needed)."""
    spec = validate(_Config, _read(path)[0])
    return _beside(path, spec.audit) if spec.audit is not None else default_audit_path()


def _read(path: Path) -> list[Document]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(str(path), "not UTF-8 text",
                         expected="a respond.yaml configuration") from None
    return read_documents(path, text)


def _beside(config: Path, text: str) -> Path:
    """A path from the configuration: relative ones are read from its directory."""
    return config.parent / Path(text).expanduser()
