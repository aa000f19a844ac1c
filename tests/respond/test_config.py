"""respond.yaml: defaults, paths, and one clear line for every kind of mistake."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mapguard.errors import InputError
from mapguard.respond.config import (
    Command,
    HttpCall,
    Mode,
    Scale,
    audit_path,
    default_audit_path,
    load_config,
)

from .conftest import TOKEN

Write = Callable[..., Path]


def action(recorder: Path) -> str:
    return (f"actions:\n  - name: shed\n    matchers: ['alertname=\"MapguardMapAllocSpike\"']\n"
            f'    command: ["{recorder}", "--site={{{{ labels.site }}}}"]\n')


def test_defaults_are_safe(write_config: Write, recorder: Path,
                           monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    config = load_config(write_config(action(recorder)))
    assert config.mode is Mode.DRY_RUN
    assert (str(config.listen), config.listen.loopback) == ("127.0.0.1:9466", True)
    assert config.path == "/alerts" and config.token is None
    assert config.audit_path == tmp_path / "state" / "mapguard" / "respond.sqlite"
    assert config.audit_path == default_audit_path()
    (shed,) = config.actions
    assert (str(shed.cooldown), shed.max_runs, str(shed.max_runs_window)) == ("10m", 3, "1h")
    assert isinstance(shed.fire.what, Command) and shed.fire.what.program == str(recorder)
    assert str(shed.fire.timeout) == "30s" and shed.on_resolve is None
    assert shed.matches({"alertname": "MapguardMapAllocSpike"})
    assert not shed.matches({"alertname": "Other"})


def test_every_field(write_config: Write, recorder: Path, fake_kubectl: Path,
                     token_file: Path, tmp_path: Path) -> None:
    path = write_config(f"""\
        mode: act
        listen: 0.0.0.0:9999
        path: /hooks/am
        token_file: respond.token
        max_request_bytes: 4096
        max_concurrent: 3
        max_queued: 0
        max_output_bytes: 100
        kill_switch_file: respond.off
        audit: state/audit.sqlite
        kubeconfig: kubeconfig
        kubectl: {fake_kubectl}
        environment: {{pass: [SECRET_I_WANT], set: {{MODE: test}}}}
        defaults: {{timeout: 5s, cooldown: 0s, max_runs: {{count: 10, per: 10m}}}}
        actions:
          - name: shed
            matchers: ['alertname=~"Mapguard.*"', 'severity!="info"']
            command: [./bin/record, fixed, "{{{{ labels.site }}}}"]
            timeout: 1m
            cooldown: 2m
            max_runs: {{count: 1, per: 1d}}
            on_resolve: {{command: [bin/record, undo]}}
          - name: notify
            matchers: ['mapguard_tier="page"']
            http:
              url: https://ops.example/hook
              json: {{alert: "{{{{ labels.alertname }}}}", n: 1,
                     tags: [a, "{{{{ labels.site }}}}"]}}
              headers: {{X-Team: payments}}
              bearer_token_file: respond.token
          - name: scale
            matchers: ['target="riskd"']
            scale: {{name: "{{{{ labels.target }}}}", namespace: prod, replicas: 4,
                     kind: statefulset, context: prod-eu}}
    """)
    config = load_config(path, environ={"PATH": "/usr/bin", "SECRET_I_WANT": "x",
                                        "AWS_SECRET_ACCESS_KEY": "no", "KUBECONFIG": "/no"})
    assert config.mode is Mode.ACT and config.token == TOKEN
    assert (config.listen.host, config.listen.port, config.listen.loopback) == (
        "0.0.0.0", 9999, False)
    assert (config.path, config.max_request_bytes, config.max_concurrent, config.max_queued,
            config.max_output_bytes) == ("/hooks/am", 4096, 3, 0, 100)
    assert config.kill_switch_file == tmp_path / "respond.off"
    assert config.audit_path == tmp_path / "state" / "audit.sqlite"
    assert config.environment == {"PATH": "/usr/bin", "SECRET_I_WANT": "x", "MODE": "test"}
    assert config.workdir == str(tmp_path)
    shed, notify, scale = config.actions
    assert isinstance(shed.fire.what, Command)
    assert shed.fire.what.program == str(tmp_path / "bin" / "record")
    assert [a.text for a in shed.fire.what.arguments] == ["fixed", "{{ labels.site }}"]
    assert (str(shed.fire.timeout), str(shed.cooldown), shed.max_runs) == ("1m", "2m", 1)
    assert shed.on_resolve is not None and str(shed.on_resolve.timeout) == "1m"
    assert shed.matches({"alertname": "MapguardGCPauseHigh", "severity": "warning"})
    assert not shed.matches({"alertname": "MapguardGCPauseHigh", "severity": "info"})
    assert isinstance(notify.fire.what, HttpCall)
    assert notify.fire.what.headers == {"X-Team": "payments", "Authorization": f"Bearer {TOKEN}"}
    assert (str(notify.fire.timeout), notify.cooldown.seconds) == ("5s", 0)
    assert isinstance(scale.fire.what, Scale)
    assert (scale.fire.what.kubectl, scale.fire.what.kubeconfig, scale.fire.what.kind,
            scale.fire.what.context, scale.fire.what.replicas) == (
        str(fake_kubectl), str(tmp_path / "kubeconfig"), "statefulset", "prod-eu", 4)


def test_dry_run_on_the_command_line_wins(write_config: Write, recorder: Path) -> None:
    path = write_config("mode: act\n" + action(recorder))
    assert load_config(path).mode is Mode.ACT
    assert load_config(path, dry_run=True).mode is Mode.DRY_RUN
    assert load_config(path, listen="[::1]:0").listen.loopback


def _error(path: Path, **kwargs: object) -> str:
    with pytest.raises(InputError) as caught:
        load_config(path, **kwargs)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mode: yes-please\n{action}", "respond.yaml:1: mode: got 'yes-please'"),
        ("actions: []\n", "actions: list should have at least 1 item"),
        ("{action}    comand: [x]\n", "actions[0].comand: unknown field"),
        ("{action}    http: {{url: 'http://x'}}\n",
         "actions[0]: exactly one of command, http, scale is needed (found command, http)"),
        ("actions:\n  - {{name: a, matchers: ['a=\"b\"']}}\n",
         "actions[0]: exactly one of command, http, scale is needed"),
        ("actions:\n  - {{name: a, matchers: ['a=\"b\"'], command: ['{{{{ labels.x }}}}']}}\n",
         "actions[0].command: the program (first element) is a template"),
        ("actions:\n  - {{name: a, matchers: ['a=\"b\"'], command: [{recorder}, '{{{{ x']}}\n",
         "actions[0].command: not a template"),
        ("actions:\n  - {{name: a, matchers: ['a=\"b\"'], "
         "command: [/bin/sh, -c, 'echo {{{{ labels.site }}}}']}}\n",
         "actions[0].command: sh would read alert values as shell code"),
        ("actions:\n  - {{name: a, matchers: ['a=\"b\"'], "
         "command: [ssh, host, 'restart {{{{ labels.site }}}}']}}\n",
         "actions[0].command: ssh would read alert values as shell code"),
        ("actions:\n  - {{name: a, matchers: ['alertname'], command: [{recorder}]}}\n",
         "actions[0].matchers[0]: 'alertname' is not a label matcher"),
        ("actions:\n  - {{name: a, matchers: ['a=~\"(\"'], command: [{recorder}]}}\n",
         "actions[0].matchers[0]: 'a=~\"(\"': not a regular expression"),
        ("actions:\n  - {{name: a, matchers: [], command: [{recorder}]}}\n",
         "actions[0].matchers: list should have at least 1 item"),
        ("actions:\n  - {{name: 'a b', matchers: ['a=\"b\"'], command: [{recorder}]}}\n",
         "actions[0].name: 'a b' is not a name"),
        ("actions:\n  - {{name: a, matchers: ['a=\"b\"'], command: [no-such-program-x]}}\n",
         "actions[0].command[0]: 'no-such-program-x' is not an executable file on the "
         "command's PATH"),
        ("actions:\n  - {{name: a, matchers: ['a=\"b\"'], command: [./missing/x]}}\n",
         "actions[0].command[0]: './missing/x' is not an executable file"),
        ("actions:\n  - {{name: a, matchers: ['a=\"b\"'], http: {{url: 'ftp://x'}}}}\n",
         "actions[0].http.url: 'ftp://x' is not an http(s) URL"),
        ("actions:\n  - {{name: a, matchers: ['a=\"b\"'], "
         "http: {{url: 'http://x/{{{{ labels.a }}}}'}}}}\n",
         "actions[0].http.url: the URL is a template"),
        ("actions:\n  - {{name: a, matchers: ['a=\"b\"'], scale: {{name: x, replicas: 2}}}}\n",
         "actions[0].scale: a scale action needs `kubeconfig`"),
        ("kubeconfig: nowhere/config\nactions:\n"
         "  - {{name: a, matchers: ['a=\"b\"'], scale: {{name: x, replicas: 2}}}}\n",
         "kubeconfig: "),
        ("{action}  - name: shed\n    matchers: ['a=\"b\"']\n    command: [{recorder}]\n",
         "(document): action names must be unique: shed"),
        ("listen: 0.0.0.0:9466\n{action}",
         "respond.yaml:1: listen: 0.0.0.0:9466 is not a loopback address and no token_file "
         "is set: mapguard respond requires a bearer token on any address other than "
         "loopback"),
        ("listen: nine\n{action}", "listen: 'nine' is not HOST:PORT"),
        ("max_request_bytes: 10\n{action}", "max_request_bytes: input should be greater"),
        ("defaults: {{cooldown: soon}}\n{action}", "defaults.cooldown: 'soon' is not a duration"),
        ("{action}---\n{action}", "several YAML documents"),
    ],
)
def test_mistakes_are_one_line_each(write_config: Write, recorder: Path, text: str,
                                    expected: str) -> None:
    body = text.format(action=action(recorder), recorder=recorder)
    path = write_config(body)
    message = _error(path)
    assert expected in message, message
    assert message.startswith(str(path)), message


def test_the_listen_option_is_checked_too(write_config: Write, recorder: Path) -> None:
    path = write_config(action(recorder))
    assert _error(path, listen="nine") == "--listen: 'nine' is not HOST:PORT (e.g. 127.0.0.1:9466)"
    assert "is not a loopback address and no token_file is set" in _error(
        path, listen="10.1.2.3:9466")


def _token_config(write_config: Write, recorder: Path, token: str) -> Path:
    return write_config(f"token_file: {token}\n" + action(recorder))


def test_token_files(write_config: Write, recorder: Path, tmp_path: Path) -> None:
    (tmp_path / "short").write_text("abc\n")
    (tmp_path / "latin1").write_bytes(b"caf\xe9-token-0123456789abcdef\n")
    (tmp_path / "dir").mkdir()
    (tmp_path / "open").write_text(TOKEN)
    (tmp_path / "open").chmod(0o644)
    for name, problem in (
        ("missing/respond.token", "No such file or directory"),
        ("dir", "Is a directory"),
        ("latin1", "is not UTF-8 text"),
        ("short", "does not hold a token (expected one line of at least 16 characters"),
    ):
        message = _error(_token_config(write_config, recorder, name))
        assert message.startswith(f"{tmp_path / 'respond.yaml'}:1: token_file: "), message
        assert problem in message, message
    config = load_config(_token_config(write_config, recorder, "open"))
    assert config.token == TOKEN
    assert config.warnings == (f"{tmp_path / 'open'}: the token file is readable by group "
                               "or others (chmod 600 it)",)


def test_the_audit_path_alone_needs_no_token_or_programs(write_config: Write,
                                                          tmp_path: Path) -> None:
    path = write_config("""\
        token_file: missing.token
        audit: a/b.sqlite
        actions: [{name: a, matchers: ['a="b"'], command: [no-such-program]}]
    """)
    assert audit_path(path) == tmp_path / "a" / "b.sqlite"


def test_tls(write_config: Write, recorder: Path, token_file: Path,
             certificate: tuple[Path, Path], tmp_path: Path) -> None:
    cert, key = certificate
    head = f"listen: 0.0.0.0:9466\ntoken_file: {token_file.name}\n"
    config = load_config(write_config(head + f"tls: {{cert_file: {cert.name}, key_file: "
                                      f"{key.name}}}\n" + action(recorder)))
    assert config.tls is not None and config.warnings == ()
    plain = load_config(write_config(head + action(recorder)))
    assert plain.tls is None
    assert plain.warnings == ("0.0.0.0:9466 is not a loopback address and tls is not set: the "
                              "bearer token and the alerts cross the network in clear text",)
    (tmp_path / "garbage.pem").write_text("not a certificate\n")
    for cert_file, key_file, problem in (
        ("missing/respond.crt", key.name, "No such file or directory"),
        ("garbage.pem", key.name, "PEM lib"),
        (cert.name, "garbage.pem", "PEM lib"),
    ):
        message = _error(write_config(f"tls: {{cert_file: {cert_file}, key_file: {key_file}}}\n"
                                      + action(recorder)))
        assert message.startswith(f"{tmp_path / 'respond.yaml'}:1: tls: cannot load "), message
        assert problem in message, message
