"""`mapguard slo ...` as a user runs it: exit codes 0/1/2, one-line errors, JSON version 1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mapguard.cli import main

from .conftest import MAPGUARD_SPEC, OPENSLO_SPEC, SLOTH_SPEC, free_port

Capsys = pytest.CaptureFixture[str]


def test_validate_text_and_json(capsys: Capsys) -> None:
    assert main(["slo", "validate", str(SLOTH_SPEC), str(OPENSLO_SPEC), "--no-promtool"]) == 0
    assert capsys.readouterr().out.startswith("ok: 3 SLOs, 0 map guards")
    assert main(["slo", "validate", str(MAPGUARD_SPEC), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["version"] == 1 and document["valid"] is True
    assert document["slos"] == ["checkout-availability", "checkout-latency"]


def test_bad_spec_is_one_line_exit_2_no_traceback(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(SLOTH_SPEC.read_text().replace("objective: 99.9", "objective: 199.9"))
    proc = subprocess.run(
        [sys.executable, "-m", "mapguard.cli", "slo", "validate", str(spec)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0] == (
        f"mapguard: error: {spec}:8: slos[0].objective: 199.9 is outside (0, 100] "
        "(expected a percentage in (0, 100), e.g. 99.9)"
    )


def test_generate_to_stdout_and_files(capsys: Capsys, tmp_path: Path) -> None:
    assert main(["slo", "generate", str(SLOTH_SPEC), "--no-check"]) == 0
    groups = yaml.safe_load(capsys.readouterr().out)["groups"]
    assert [g["name"] for g in groups] == [  # Sloth's groups for a Sloth spec
        f"sloth-slo-{step}-k8s-apiserver-requests-{slo}"
        for slo in ("availability", "latency")
        for step in ("sli-recordings", "meta-recordings", "alerts")
    ]
    out = tmp_path / "out"
    code = main(["slo", "generate", str(MAPGUARD_SPEC), "-o", str(out / "rules.yml"),
                 "--tests", str(out / "tests" / "rules.test.yml"),
                 "--alertmanager", str(out / "am.yml"), "--dashboard", str(out / "dash.json"),
                 "--no-check", "--format", "json"])
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document["written"]) == {"rules", "tests", "alertmanager", "dashboard"}
    assert document["recording_rules"] > 0 and document["alerting_rules"] > 0
    tests = yaml.safe_load((out / "tests" / "rules.test.yml").read_text())
    assert tests["rule_files"] == ["../rules.yml"]  # relative to the test file
    json.loads((out / "dash.json").read_text())


def test_generate_checks_with_the_real_tools(
    capsys: Capsys, tmp_path: Path, promtool: str, amtool: str
) -> None:
    guards = tmp_path / "guards.yaml"
    guards.write_text("version: mapguard/v1\nservice: s\nmap_guards:\n  - target: api\n")
    code = main(["slo", "generate", str(guards), "-o", str(tmp_path / "r.yml"),
                 "--tests", str(tmp_path / "t.yml"), "--alertmanager", str(tmp_path / "a.yml"),
                 "--run-tests"])
    err = capsys.readouterr().err
    assert code == 0, err
    for check in ("promtool check rules: ok", "amtool check-config", "promtool test rules: ok"):
        assert check in err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["generate", str(SLOTH_SPEC), "--tests", "t.yml"], "add -o"),
        (["generate", str(SLOTH_SPEC), "-o", "r.yml", "--run-tests"], "--run-tests needs"),
        (["validate", str(SLOTH_SPEC), "--default-period", "1M"], "--default-period"),
        (["generate", str(SLOTH_SPEC), "--extra-labels", "team"], "NAME=VALUE"),
        (["generate", str(SLOTH_SPEC), "--ignore-slo-duplicates"], "needs -o DIR/"),
        (["validate", str(SLOTH_SPEC), "--fs-include", "("], "--fs-include"),
    ],
)
def test_usage_errors_exit_2(capsys: Capsys, args: list[str], words: str) -> None:
    assert main(["slo", *args]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1


def test_convert(capsys: Capsys, tmp_path: Path) -> None:
    assert main(["slo", "convert", str(SLOTH_SPEC), "--to", "openslo"]) == 0
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    assert {d["kind"] for d in documents} == {"SLO", "AlertPolicy"}
    target = tmp_path / "m.yaml"
    assert main(["slo", "convert", str(MAPGUARD_SPEC), "--to", "sloth", "-o", str(target)]) == 0
    assert "map guards have no Sloth form" in capsys.readouterr().err
    assert yaml.safe_load_all(target.read_text())


def test_status_against_nothing_is_exit_2(capsys: Capsys) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["slo", "status", "--prometheus", url, "--timeout", "2"]) == 2
    assert "cannot reach Prometheus" in capsys.readouterr().err


def test_validate_lets_promtool_judge_the_queries(
    capsys: Capsys, tmp_path: Path, promtool: str
) -> None:
    # Sloth accepts any UTF-8 label name; Prometheus 2's promtool does not: one line, naming
    # the SLO whose rules it rejects (however many rules carry the label).
    spec = tmp_path / "q.yaml"
    spec.write_text(SLOTH_SPEC.read_text().replace("labels:\n  cluster:",
                                                   "labels:\n  team.name: payments\n  cluster:"))
    assert main(["slo", "validate", str(spec)]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("mapguard: error:")]
    assert len(lines) == 2, err  # one per SLO
    assert lines[0].startswith(
        f"mapguard: error: {spec}: slos[0]: promtool rejects the rules of SLO "
        "'k8s-apiserver-requests-availability': ")
    assert "invalid label name: team.name (and " in lines[0]


def test_validate_reports_every_problem_in_every_file(capsys: Capsys, tmp_path: Path) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b" / "c.yml"
    second.parent.mkdir()
    text = SLOTH_SPEC.read_text()
    first.write_text(text.replace("objective: 99.9", "objective: 199.9")
                     .replace("objective: 99\n", "objective: -1\n"))
    second.write_text(text.replace("error_query: sum(rate(apiserver_request_total{",
                                   "error_query: sum(rate(apiserver_request_total{{"))
    assert main(["slo", "validate", str(first), str(tmp_path / "b"), str(tmp_path / "nope")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 4, lines
    assert lines[0].startswith(f"mapguard: error: {tmp_path / 'nope'}: no such file")
    assert any(f"{first}:8: slos[0].objective: 199.9 is outside" in line for line in lines)
    assert any(f"{first}:" in line and "slos[1].objective: -1 is outside" in line
               for line in lines)
    assert any(f"{second}:" in line and "slos[0].sli.events.error_query: not PromQL" in line
               for line in lines)


SLOTH_EXAMPLES = Path(__file__).parent / "testdata" / "sloth" / "examples"


def test_generate_a_directory_to_one_file_or_one_file_per_spec(
    capsys: Capsys, tmp_path: Path
) -> None:
    specs = tmp_path / "specs"
    (specs / "team").mkdir(parents=True)
    for name, target in (("getting-started.yml", "a.yml"), ("raw-home-wifi.yml", "team/b.yaml"),
                         ("no-alerts.yml", "c.yml")):
        (specs / target).write_text((SLOTH_EXAMPLES / name).read_text())
    (specs / "notes.txt").write_text("not a spec")
    rules = tmp_path / "rules.yml"
    assert main(["slo", "generate", str(specs), "-o", str(rules), "--no-check"]) == 0
    groups = yaml.safe_load(rules.read_text())["groups"]
    assert len(groups) == 8  # three SLOs, Sloth's three groups each (no-alerts: two, as Sloth)
    out = tmp_path / "out"
    assert main(["slo", "generate", str(specs), "-o", f"{out}/", "--no-check",
                 "--extra-labels", "team=payments"]) == 0
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.y*ml"))
    assert written == ["a.yml", "c.yml", "team/b.yaml"]
    for path in out.rglob("*.y*ml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "record" in rule:
                    assert rule["labels"]["team"] == "payments"
    capsys.readouterr()


def test_labels_switch_the_convention(capsys: Capsys) -> None:
    example = str(SLOTH_EXAMPLES / "getting-started.yml")
    assert main(["slo", "generate", example, "--no-check", "--labels", "mapguard"]) == 0
    rules = [r for g in yaml.safe_load(capsys.readouterr().out)["groups"] for r in g["rules"]]
    alerts = {r["alert"] for r in rules if "alert" in r}
    assert alerts == {"MyServiceHighErrorRatePage", "MyServiceHighErrorRateTicket"}
    assert not any("sloth_id" in (r.get("labels") or {}) for r in rules)
    assert main(["slo", "generate", str(OPENSLO_SPEC), "--no-check", "--labels", "sloth"]) == 0
    rules = [r for g in yaml.safe_load(capsys.readouterr().out)["groups"] for r in g["rules"]]
    assert {r["alert"] for r in rules if "alert" in r} == {"SearchAvailability"}
    assert any(r.get("record") == "sloth_slo_info" for r in rules)


def _bad_paths(tmp_path: Path) -> dict[str, Path]:
    """A missing directory, a directory where a file is expected (root reads any file), and a
    file that is not UTF-8."""
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("version: prometheus/v1\nservice: caf\xe9\n".encode("latin-1"))
    folder = tmp_path / "folder.yaml"
    (folder / "inner").mkdir(parents=True)
    return {"missing": tmp_path / "no" / "such" / "dir", "folder": folder, "latin1": latin}


@pytest.mark.parametrize("kind", ["missing", "folder", "latin1"])
def test_bad_paths_are_one_line_exit_2(capsys: Capsys, tmp_path: Path, kind: str) -> None:
    bad = _bad_paths(tmp_path)[kind]
    spec = str(SLOTH_EXAMPLES / "getting-started.yml")
    runs = [
        ["slo", "validate", str(bad)],
        ["slo", "generate", str(bad), "--no-check"],
        ["slo", "validate", spec, "--windows", str(bad), "--no-promtool"],
        ["slo", "generate", spec, "--windows", str(bad), "--no-check"],
    ]
    for args in runs:
        assert main(args) == 2, args
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("mapguard: error: "), (args, err)
        assert "Traceback" not in err
    # What was read before a bad input is kept: the good spec is still reported on.
    assert main(["slo", "validate", spec, str(bad), "--no-promtool", "--format", "json"]) == 2
    document = json.loads(capsys.readouterr().out)
    assert document["slos"] == ["myservice-requests-availability"]
    assert len(document["problems"]) == 1


def test_windows_directory_with_a_non_utf8_catalog(capsys: Capsys, tmp_path: Path) -> None:
    windows = tmp_path / "windows"
    windows.mkdir()
    (windows / "7d.yaml").write_bytes(b"apiVersion: sloth.slok.dev/v1\nkind: AlertWindows # \xff\n")
    spec = str(SLOTH_EXAMPLES / "getting-started.yml")
    assert main(["slo", "validate", spec, "--windows", str(windows), "--no-promtool"]) == 2
    err = capsys.readouterr().err
    assert err == f"mapguard: error: {windows / '7d.yaml'}: not UTF-8 text (expected a YAML spec)\n"
