"""`mapguard watch` on the command line: bad input, --once, the exporter, a clean stop."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from mapguard.cli import main
from mapguard.formats.promtext import parse_samples
from tests.realparts import require_executable

from .fakes import MAP_BYTES, Behaviour, delta_profile, fake_targets, write_source

NOT_UTF8 = b"targets: [\xff\xfe]\n"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["watch", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("option", ["--config", "--file-sd"])
def test_path_options_refuse_missing_directories_directories_and_non_utf8(
        option: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad_utf8 = tmp_path / "bad.json"
    bad_utf8.write_bytes(NOT_UTF8)
    for path, message in ((tmp_path / "missing" / "x.yaml", r"does not exist|No such file"),
                          (tmp_path, r"is a directory|Is a directory"),
                          (bad_utf8, "not UTF-8")):
        code, out, err = run(capsys, option, str(path), "--once")
        assert code == 2, (path, err)
        # One line says what is wrong with which file (click puts its usage hint above).
        (line,) = [line for line in err.splitlines() if "rror" in line]
        assert re.search(message, line) and path.name in line, err
        assert "Traceback" not in err and out == ""


def test_source_must_be_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for path in (tmp_path / "missing", write_source(tmp_path / "src")):
        code, _, err = run(capsys, "--target", "http://127.0.0.1:1", "--source", str(path))
        assert code == 2 and "--source" in err and "Traceback" not in err


def test_config_errors_point_at_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    config = tmp_path / "watch.yaml"
    for text, expected in (
        ("interval: 1.5s\n", "watch.yaml:1: interval"),
        ("targets:\n  - url: ftp://x\n", "watch.yaml:2: targets[0].url: 'ftp://x' is not"),
        ("targets:\n  - url: http://u:p@x:1\n", "must not carry credentials"),
        ("shard: 5/4\n", "watch.yaml:1: shard"),
        ("targets: [{url: 'http://x:1', http: {bearer_token_file: a, basic_auth: "
         "{username: u, password_file: b}}}]\n", "exclude each other"),
        ("max_profile_bytes: 12 parsecs\n", "max_profile_bytes"),
        ("surprise: 1\n", "unknown field"),
    ):
        config.write_text(text)
        code, _, err = run(capsys, "--config", str(config), "--once")
        assert code == 2 and expected in err, (text, err)


def test_no_targets_and_json_without_once(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys)
    assert code == 2 and "no targets" in err
    code, _, err = run(capsys, "--target", "http://127.0.0.1:1", "--format", "json")
    assert code == 2 and "--format json goes with --once" in err


def test_once_json_and_a_missing_credentials_file(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "src"
    profile = delta_profile(str(write_source(source)))
    secret = tmp_path / "token"
    secret.write_text("s3cr3t-token\n")
    with fake_targets({"a": Behaviour("go", profile), "b": Behaviour("go", profile)}
                      ) as fakes:
        config = tmp_path / "watch.yaml"
        config.write_text(textwrap.dedent(f"""\
            interval: 1s
            source: src
            targets:
              - url: {fakes["a"].url}
                name: svc-a
                http: {{bearer_token_file: token}}
              - url: {fakes["b"].url}
                name: svc-b
                http: {{bearer_token_file: missing-token}}
        """))
        code, out, err = run(capsys, "--config", str(config), "--once", "--format", "json")
    document = json.loads(out)
    assert code == 2  # one target failed; the other's interval is still printed
    targets = {t["target"]: t for t in document["targets"]}
    assert targets["svc-a"]["sites"] == [{"site": "main.go:5", "op": "grow", "bytes": MAP_BYTES,
                                          "objects": MAP_BYTES // 1000,
                                          "bytes_per_second": pytest.approx(
                                              MAP_BYTES / targets["svc-a"]["seconds"],
                                              rel=0.01)}]
    assert targets["svc-a"]["mode"] == "cumulative"
    assert targets["svc-a"]["unmatched"] == []  # the tree is the profiled build's
    assert "missing-token: cannot read" in targets["svc-b"]["error"]
    assert err.count("mapguard: error:") == 1 and "missing-token" in err
    assert "s3cr3t" not in out + err


def test_a_non_utf8_go_file_in_the_source_tree_is_no_crash(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "src"
    main_go = write_source(source)
    main_go.write_bytes(main_go.read_bytes().replace(b"package main", b"package main // \xff"))
    with fake_targets({"a": Behaviour("go", delta_profile(str(main_go)))}) as fakes:
        code, out, err = run(capsys, "--target", fakes["a"].url, "--source", str(source),
                             "--interval", "1s", "--once")
    assert code == 0, err
    assert "main.go:5" in out and "Traceback" not in err


def _start(args: list[str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-m", "mapguard.cli", "watch", *args],
                               stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        found = re.search(r"serving (http://\S+)", line)
        if found:
            return process, found.group(1)
        if not line and process.poll() is not None:
            break
    process.kill()
    raise AssertionError("the agent did not start")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serves_metrics_binds_loopback_and_stops_cleanly_on_signals(
        signum: int, tmp_path: Path) -> None:
    source = tmp_path / "src"
    profile = delta_profile(str(write_source(source)))
    with fake_targets({"a": Behaviour("go", profile)}) as fakes:
        process, url = _start(["--target", fakes["a"].url, "--source", str(source),
                               "--interval", "1s", "--listen", "127.0.0.1:0"])
        try:
            assert url.startswith("http://127.0.0.1:")
            deadline = time.monotonic() + 60
            body = b""
            while b"mapguard_map_alloc_bytes_total{" not in body:
                assert time.monotonic() < deadline, body
                time.sleep(0.3)
                body = httpx.get(url, timeout=5).content
            samples = parse_samples(body, url, ["mapguard_map_alloc_bytes", "mapguard_target_up",
                                                "mapguard_map_alloc_share"])
            values = {(s.name, s.labels): s.value for s in samples}
            target = fakes["a"].url.removeprefix("http://")
            key = (("op", "grow"), ("site", "main.go:5"), ("target", target))
            assert values[("mapguard_map_alloc_bytes_total", key)] % MAP_BYTES == 0
            assert values[("mapguard_target_up", (("target", target),))] == 1
            promtool = require_executable("promtool", "run `python3 dev.py test`")
            lint = subprocess.run([promtool, "check", "metrics"], input=body,
                                  capture_output=True, timeout=60)
            assert lint.returncode == 0, lint.stdout + lint.stderr
        finally:
            process.send_signal(signum)
            try:
                code = process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
        assert process.stderr is not None
        rest = process.stderr.read()
    assert code == 0, rest
    assert "stopping" in rest and "Traceback" not in rest


def test_default_listen_address_is_loopback() -> None:
    from mapguard.watch.config import WatchConfig

    assert WatchConfig().listen.host == "127.0.0.1"
    assert WatchConfig().listen.port == 9464


def test_once_with_file_sd_and_a_shard(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    from mapguard.watch.sharding import hashmod

    # 40 ports: the chance that none hashes to shard 2 is (3/4)^40, about 1e-5.
    behaviours = {f"t{i}": Behaviour("symbolized") for i in range(40)}
    with fake_targets(behaviours) as fakes:
        addresses = [fake.url.removeprefix("http://") for fake in fakes.values()]
        mine = {a for a in addresses if hashmod(a, 4) == 1}
        assert mine and len(mine) < len(addresses)
        sd = tmp_path / "targets.json"
        sd.write_text(json.dumps([{"targets": addresses}]))
        code, out, err = run(capsys, "--file-sd", str(sd), "--shard", "2/4", "--once",
                             "--format", "json", "--interval", "1s")
    assert code == 0, err
    document = json.loads(out)
    assert {t["target"] for t in document["targets"]} == mine
    for target in document["targets"]:
        assert target["mode"] == "symbolized"
        assert target["sites"][0]["site"] == "main.fill" and target["sites"][0]["op"] == "grow"


def test_once_target_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with fake_targets({"a": Behaviour("symbolized")}) as fakes:
        code, out, err = run(capsys, "--once", "--target", fakes["a"].url, "--format", "json",
                             "--interval", "1s")
    assert code == 0, err
    (target,) = json.loads(out)["targets"]
    assert target["goroutines"] == 7 and target["error"] is None
    assert [(s["site"], s["op"]) for s in target["sites"]] == [("main.fill", "grow")]


def test_once_json_is_the_watch_evidence_bundles_read(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from mapguard.bundle.evidence import load_costs
    from mapguard.bundle.reader import open_bundle

    with fake_targets({"a": Behaviour("symbolized")}) as fakes:
        code, out, err = run(capsys, "--once", "--target", fakes["a"].url, "--format", "json",
                             "--interval", "1s")
    assert code == 0, err
    (tmp_path / "watch").mkdir()
    (tmp_path / "watch" / "svc.json").write_text(out)
    (entry,) = open_bundle(tmp_path).of("watch")
    costs = load_costs(entry, None)
    assert (costs.kind, costs.map_total) == ("watch", MAP_BYTES)
    assert [(s.site.function, s.op, s.value) for s in costs.sites] == [
        ("main.fill", "grow", MAP_BYTES)]
