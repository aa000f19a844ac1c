"""The pure parts of `mapguard chaos`: steps, cgroup files, the GOMAXPROCS regime, Chaos Mesh
manifests against the CRD schema, and the command line's answers to bad input."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from mapguard.chaos import manifest as manifests
from mapguard.chaos.cgroups import (
    Hierarchy,
    QuotaCgroup,
    cpu_hierarchies,
    parse_cpu_stat,
    process_cgroup,
    usable_hierarchy,
)
from mapguard.chaos.runtime import Regime, parse_metrics
from mapguard.chaos.steps import build_steps, parse_quotas, parse_stress
from mapguard.cli import main
from mapguard.errors import UsageError

MOUNTS = """\
tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
cgroup /sys/fs/cgroup/cpuacct cgroup rw,relatime,cpuacct 0 0
cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,relatime,cpu,cpuacct 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
"""


def test_hierarchies_from_mounts() -> None:
    assert cpu_hierarchies(MOUNTS) == [
        Hierarchy(1, Path("/sys/fs/cgroup/cpu")), Hierarchy(1, Path("/sys/fs/cgroup/cpu,cpuacct")),
        Hierarchy(2, Path("/sys/fs/cgroup/unified"))]


def test_process_cgroup_lines() -> None:
    text = "9:name=systemd:/\n4:memory:/x\n1:cpu,cpuacct:/kubepods/pod1\n0::/user.slice\n"
    assert process_cgroup(text, 1) == "/kubepods/pod1"
    assert process_cgroup(text, 2) == "/user.slice"
    assert process_cgroup("4:memory:/x\n", 1) is None


def test_cpu_stat_v1_and_v2() -> None:
    v1 = parse_cpu_stat("nr_periods 30\nnr_throttled 29\nthrottled_time 2529000000\n")
    assert (v1.periods, v1.throttled, v1.throttled_us) == (30, 29, 2_529_000)
    v2 = parse_cpu_stat("usage_usec 100\nnr_periods 10\nnr_throttled 4\nthrottled_usec 800\n")
    assert (v2.periods, v2.throttled, v2.throttled_us) == (10, 4, 800)
    assert v1.since(v2).throttled == 25


def test_no_cpu_controller_says_why(tmp_path: Path) -> None:
    unified = tmp_path / "unified"
    unified.mkdir()
    (unified / "cgroup.controllers").write_text("hugetlb pids\n")
    found, reason = usable_hierarchy(f"cgroup2 {unified} cgroup2 rw 0 0\n")
    assert found is None and "cpu controller is not available" in reason
    found, reason = usable_hierarchy("proc /proc proc rw 0 0\n")
    assert found is None and reason == "no cgroup hierarchy with the cpu controller is mounted"


@pytest.mark.parametrize(("version", "file", "limited", "unlimited"), [
    (1, "cpu.cfs_quota_us", "25000", "-1"),
    (2, "cpu.max", "25000 100000", "max 100000"),
])
def test_quota_files(tmp_path: Path, version: int, file: str, limited: str,
                     unlimited: str) -> None:
    """How each version writes a quota (a directory stands in for the cgroup here; the live
    tests write the real v1 files, and v2 where its cpu controller is available)."""
    cgroup = QuotaCgroup(Hierarchy(version, tmp_path), tmp_path, {}, tmp_path, None)
    cgroup.set_quota(0.25)
    assert (tmp_path / file).read_text() == limited
    cgroup.set_quota(None)
    assert (tmp_path / file).read_text() == unlimited


def test_steps() -> None:
    assert parse_quotas("50%,25%,none") == (0.5, 0.25, None)
    assert parse_stress("0,2") == (0, 2)
    steps = build_steps((0.5, 0.1), (2,), 30)
    assert [(s.quota_cpus, s.stress_workers, s.seconds) for s in steps] == [
        (0.5, 2, 30), (0.1, 2, 30)]
    assert steps[0].describe() == "quota 50%, stress-ng 2 CPU workers"
    for bad in ("50", "0.5%", "abc", "50%,"):
        with pytest.raises(UsageError, match="--quota"):
            parse_quotas(bad)
    with pytest.raises(UsageError, match="as many"):
        build_steps((0.5, 0.2, 0.1), (1, 2), 30)
    with pytest.raises(UsageError, match="--quota or --stress"):
        build_steps((), (), 30)


def test_gomaxprocs_regime() -> None:
    follows = Regime("go1.27.3", True, "")
    assert follows.expected_gomaxprocs(0.1, 8) == 2  # never below 2
    assert follows.expected_gomaxprocs(2.5, 8) == 3  # rounded up
    assert follows.expected_gomaxprocs(None, 8) == 8
    assert follows.expected_gomaxprocs(4, 2) == 2  # never above the CPUs
    assert Regime("go1.24.0", False, "").expected_gomaxprocs(0.5, 8) == 8
    assert Regime(None, None, "").expected_gomaxprocs(0.5, 8) is None


def test_metrics_text() -> None:
    sample = parse_metrics("# TYPE go_sched_gomaxprocs_threads gauge\n"
                           "go_sched_gomaxprocs_threads 4\n"
                           "# TYPE go_gc_duration_seconds summary\n"
                           "go_gc_duration_seconds_sum 0.1\ngo_gc_duration_seconds_count 17\n")
    assert (sample.gomaxprocs, sample.gc_cycles) == (4, 17)
    assert parse_metrics("garbage {").gomaxprocs is None


# --- Chaos Mesh --------------------------------------------------------------------------------


def _manifest(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["chaos", "manifest", *args]) == 0
    document: dict[str, Any] = yaml.safe_load(capsys.readouterr().out)
    return document


def test_quota_manifest(capsys: pytest.CaptureFixture[str]) -> None:
    document = _manifest(["--quota", "25%", "--selector", "app=riskd", "--duration", "30s"],
                         capsys)
    assert document["kind"] == "StressChaos"
    assert document["spec"]["stressors"] == {"cpu": {"workers": 1, "load": 75}}
    assert document["spec"]["selector"]["labelSelectors"] == {"app": "riskd"}
    assert manifests.validation_errors(document) == []


def test_schedule_manifest(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "chaos.yaml"
    assert main(["chaos", "manifest", "--stress", "2", "--selector", "app=riskd,tier=api",
                 "--schedule", "@every 1h", "--duration", "5m", "--namespace", "risk",
                 "-o", str(out)]) == 0
    text = out.read_text()
    assert "contention" not in text  # no quota to explain
    document = yaml.safe_load(text)
    assert document["kind"] == "Schedule" and document["spec"]["type"] == "StressChaos"
    assert document["spec"]["stressChaos"]["stressors"]["cpu"]["workers"] == 2
    assert manifests.validation_errors(document) == []


def test_the_schema_rejects_what_kubernetes_would(capsys: pytest.CaptureFixture[str]) -> None:
    good = _manifest(["--quota", "50%", "--selector", "app=x"], capsys)
    bad_load = copy.deepcopy(good)
    bad_load["spec"]["stressors"]["cpu"]["load"] = 150
    assert any("150 is greater than the maximum of 100" in p
               for p in manifests.validation_errors(bad_load))
    typo = copy.deepcopy(good)
    typo["spec"]["stresors"] = typo["spec"].pop("stressors")
    assert any("stresors" in p for p in manifests.validation_errors(typo))
    bad_mode = copy.deepcopy(good)
    bad_mode["spec"]["mode"] = "most"
    assert any(p.startswith("spec.mode") for p in manifests.validation_errors(bad_mode))


@pytest.mark.parametrize("args", [
    ["--selector", "app=x"],
    ["--quota", "25%", "--stress", "2", "--selector", "app=x"],
    ["--quota", "50%,25%", "--selector", "app=x"],
    ["--quota", "150%", "--selector", "app=x"],
    ["--quota", "25%", "--selector", "app"],
    ["--quota", "25%", "--selector", "app=x", "--name", "Not_A_Name"],
    ["--quota", "25%", "--selector", "app=x", "--duration", "soon"],
])
def test_manifest_usage_errors(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chaos", "manifest", *args]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_manifest_output_into_a_missing_directory(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "nowhere" / "chaos.yaml"
    assert main(["chaos", "manifest", "--quota", "25%", "--selector", "app=x",
                 "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(out) in err and len(err.strip().splitlines()) == 1


def test_cpu_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chaos", "cpu", "--pid", "999999999", "--quota", "50%"]) == 2
    assert "no such process" in capsys.readouterr().err
    assert main(["chaos", "cpu", "--pid", "1", "--quota", "5"]) == 2
    assert main(["chaos", "cpu", "--pid", "1", "--quota", "50%", "--step", "0s"]) == 2


@pytest.mark.parametrize("problem", ["missing", "directory", "not-utf8"])
def test_cpu_bad_files(problem: str, tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    path = {"missing": tmp_path / "nowhere" / "f", "directory": tmp_path,
            "not-utf8": tmp_path / "latin1.yaml"}[problem]
    if problem == "not-utf8":
        path.write_bytes(b"version: caf\xe9\n")
    # --gctrace is read as bytes (a trace may hold anything); --slo is a spec.
    for option in (("--gctrace",) if problem != "not-utf8" else ()) + ("--slo",):
        assert main(["chaos", "cpu", "--pid", str(_own_pid()), "--quota", "50%",
                     option, str(path)]) == 2
        err = capsys.readouterr().err
        assert str(path) in err and "Traceback" not in err


def _own_pid() -> int:
    import os

    return os.getpid()
