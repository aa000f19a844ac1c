"""`slo generate --respond URL`: guard alerts and pages reach `mapguard respond` in both label
conventions (checked by amtool), people are still told, and Alertmanager's bearer token gets
through to a real receiver that requires it."""

from __future__ import annotations

import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from mapguard.cli import main
from mapguard.respond.audit import AuditLog, Entry
from tests.slo.conftest import MAPGUARD_SPEC, SLOTH_SPEC, free_port, wait_until_ready

from .conftest import start_respond, wait_for

URL = "http://127.0.0.1:9466/alerts"


def generate(tmp_path: Path, *specs: Path, extra: tuple[str, ...] = ()) -> Path:
    am = tmp_path / "am.yml"
    argv = ["slo", "generate", *map(str, specs), "-o", str(tmp_path / "rules.yml"),
            "--alertmanager", str(am), *extra]
    assert main(argv) == 0
    return am


def routes(amtool: str, config: Path, *labels: str) -> str:
    proc = subprocess.run([amtool, "config", "routes", "test", f"--config.file={config}",
                           *labels], capture_output=True, text=True, timeout=60)
    return proc.stdout.strip()


def test_guards_and_pages_of_both_conventions_reach_respond(amtool: str,
                                                            tmp_path: Path) -> None:
    am = generate(tmp_path, SLOTH_SPEC, MAPGUARD_SPEC, extra=("--respond", URL))
    checked = subprocess.run([amtool, "check-config", str(am)], capture_output=True,
                             text=True, timeout=60)
    assert checked.returncode == 0 and "4 receivers" in checked.stdout, checked.stdout
    for labels, receivers in [
        # map guards (mapguard's convention always): respond, and the ticket for people
        (["alertname=MapguardMapAllocSpike", "mapguard_guard=alloc_spike",
          "mapguard_tier=ticket"], "mapguard-respond,mapguard-ticket"),
        (["alertname=MapguardGCPauseHigh", "mapguard_guard=gc_pause", "mapguard_tier=ticket"],
         "mapguard-respond,mapguard-ticket"),
        # mapguard's convention: pages are named <name>Page and carry mapguard_tier
        (["alertname=CheckoutAvailabilityPage", "mapguard_tier=page"],
         "mapguard-respond,mapguard-page"),
        (["alertname=CheckoutAvailabilityTicket", "mapguard_tier=ticket"], "mapguard-ticket"),
        # Sloth's: one name for both tiers, told apart by sloth_severity only
        (["alertname=K8sApiserverAvailabilityAlert", "sloth_severity=page",
          "severity=critical"], "mapguard-respond,mapguard-page"),
        (["alertname=K8sApiserverAvailabilityAlert", "sloth_severity=ticket",
          "severity=warning"], "mapguard-ticket"),
        (["alertname=Watchdog"], "mapguard-default"),
    ]:
        assert routes(amtool, am, *labels) == receivers, labels
    receiver = yaml.safe_load(am.read_text())["receivers"][-1]
    assert receiver == {"name": "mapguard-respond", "webhook_configs": [
        {"url": URL, "send_resolved": True, "max_alerts": 0,
         "http_config": {"follow_redirects": False}}]}


def test_without_guards_only_pages_go_to_respond(tmp_path: Path) -> None:
    am = generate(tmp_path, SLOTH_SPEC, extra=("--respond", URL))
    respond = [r["matchers"] for r in yaml.safe_load(am.read_text())["route"]["routes"]
               if r["receiver"] == "mapguard-respond"]
    assert respond == [['sloth_severity="page"']]


def test_a_token_file_for_other_addresses(amtool: str, tmp_path: Path, token_file: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    am = generate(tmp_path, MAPGUARD_SPEC, extra=(
        "--respond", "https://respond.internal:9466/alerts",
        "--respond-token-file", token_file.name))
    http_config = yaml.safe_load(am.read_text())["receivers"][-1]["webhook_configs"][0][
        "http_config"]
    # Absolute: Alertmanager would read a relative path from its configuration's directory.
    assert http_config["authorization"] == {"type": "Bearer",
                                            "credentials_file": str(token_file)}
    assert subprocess.run([amtool, "check-config", str(am)], capture_output=True,
                          timeout=60).returncode == 0


@pytest.mark.parametrize(("extra", "message"), [
    (("--respond", URL, "--no-check"), None),
    (("--respond", "http://10.1.2.3:9466/alerts"),
     "--respond: 10.1.2.3 is not a loopback address: mapguard respond requires a bearer token "
     "there; add --respond-token-file"),
    (("--respond", "ftp://127.0.0.1/x"), "--respond: 'ftp://127.0.0.1/x' is not an http(s) URL"),
    (("--respond-token-file", "t"),
     "--respond-token-file and --respond-ca-file need --respond URL"),
    (("--respond-ca-file", "t"), "--respond-token-file and --respond-ca-file need --respond URL"),
])
def test_respond_option_mistakes(tmp_path: Path, extra: tuple[str, ...], message: str | None,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["slo", "generate", str(MAPGUARD_SPEC), "-o", str(tmp_path / "rules.yml"), *extra]
    if message is None:  # --respond without --alertmanager
        message = "--respond needs --alertmanager FILE (the configuration it goes into)"
    else:
        argv += ["--alertmanager", str(tmp_path / "am.yml")]
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == f"mapguard: error: {message}"


@pytest.mark.parametrize("option", ["--respond-token-file", "--respond-ca-file"])
def test_bad_token_and_ca_files(tmp_path: Path, option: str,
                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "latin1").write_bytes(b"caf\xe9-0123456789abcdef")
    (tmp_path / "short").write_text("x")
    for path, problem in ((tmp_path / "no" / "token", "No such file or directory"),
                          (tmp_path / "dir", "Is a directory"),
                          (tmp_path / "latin1", "is not UTF-8 text"),
                          (tmp_path / "short", "does not hold a token"
                           if option == "--respond-token-file" else "holds no certificate")):
        assert main(["slo", "generate", str(MAPGUARD_SPEC), "-o", str(tmp_path / "r.yml"),
                     "--alertmanager", str(tmp_path / "am.yml"), "--respond", URL,
                     option, str(path)]) == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith(f"mapguard: error: {option}: ") and problem in error, error
        assert "\n" not in error


def _entries(path: Path) -> list[Entry]:
    if not path.exists():
        return []
    log = AuditLog.open_for_reading(path)
    try:
        return list(log.entries())
    finally:
        log.close()


@pytest.mark.slow
def test_alertmanager_reaches_respond_over_https_with_the_token(
    alertmanager_bin: str, tmp_path: Path, recorder: Path, token_file: Path,
    certificate: tuple[Path, Path], processes: list[subprocess.Popen[bytes]],
) -> None:
    cert, key = certificate
    config = tmp_path / "respond.yaml"
    config.write_text(f"token_file: {token_file}\ntls: {{cert_file: {cert}, key_file: {key}}}\n"
                      "audit: audit.sqlite\nactions:\n"
                      f"  - {{name: shed, matchers: ['mapguard_guard=\"alloc_spike\"'], "
                      f"command: [\"{recorder}\", \"{{{{ labels.site }}}}\"]}}\n")
    url, _ = start_respond(config, processes, tmp_path / "respond.log")
    assert url.startswith("https://127.0.0.1:")
    # Plain HTTP, or HTTPS without the token, get nowhere.
    with pytest.raises(httpx.HTTPError):
        httpx.post(url.replace("https:", "http:"), json={}, timeout=10)
    trusted = ssl.create_default_context(cafile=str(cert))
    assert httpx.post(url, json={}, verify=trusted, timeout=10).status_code == 401

    am = generate(tmp_path, MAPGUARD_SPEC, extra=(
        "--respond", url, "--respond-token-file", str(token_file),
        "--respond-ca-file", str(cert)))
    document = yaml.safe_load(am.read_text())
    for route in document["route"]["routes"]:
        if route["receiver"] == "mapguard-respond":
            route["group_wait"] = "1s"
    am.write_text(yaml.safe_dump(document))
    port = free_port()
    processes.append(subprocess.Popen(
        [alertmanager_bin, f"--config.file={am}", f"--storage.path={tmp_path / 'am'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    ))
    wait_until_ready(f"http://127.0.0.1:{port}/-/ready", processes[-1])
    started = time.time()
    response = httpx.post(f"http://127.0.0.1:{port}/api/v2/alerts", timeout=10, json=[{
        "labels": {"alertname": "MapguardMapAllocSpike", "mapguard_guard": "alloc_spike",
                   "mapguard_tier": "ticket", "target": "checkout", "site": "a"}}])
    assert response.status_code == 200
    decided = wait_for(lambda: [e for e in _entries(tmp_path / "audit.sqlite")
                                if e.decision != "rejected"],
                       "Alertmanager's notification", timeout=60)
    # Accepted (the token and the certificate worked), decided as a dry run (the default).
    assert [(e.decision, e.action, (e.labels or {}).get("site")) for e in decided] == [
        ("dry-run", "shed", "a")]
    assert decided[0].at >= started
