"""`mapguard lint --profile` on a Go program whose hot and cold map sites are known by
construction (tests/fixtures/profiles/hotmaps): built and run with the real toolchain, its own
allocs and CPU profiles, figures checked against `go tool pprof` on the same files.

Annotations in the fixture: `// want MGxxx` marks a finding the profile must report as
measured and not demoted; `// demoted MGxxx` one it must report demoted (a cold look-alike of
a hot site); every other line must stay silent. The evidence-only rules (MG011, MG012) fire at
the hot sites only: their cold look-alikes are not reported at all.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mapguard.gotool import GoToolchain, run_go

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).parents[1] / "fixtures" / "profiles" / "hotmaps"
BIN = Path(sys.executable).parent  # the installed `mapguard` command
ANNOTATION = re.compile(r"//\s*(want|demoted)((?:\s+MG\d{3})+)\s*$")
# The bar: a hot finding's bytes are within this of the profile's own figure.
TOLERANCE = 0.05


@dataclass(frozen=True)
class Profiles:
    allocs: Path
    cpu: Path


def _env() -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k != "GOROOT"},
            "GOTOOLCHAIN": "local", "GOPROXY": "off", "GOFLAGS": "-mod=mod",
            "GOTELEMETRY": "off"}


@pytest.fixture(scope="session")
def profiles(go_toolchain: GoToolchain, tmp_path_factory: pytest.TempPathFactory) -> Profiles:
    """Build and run the program once for all xdist workers (a lock in the shared tmp)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if base.name.startswith("popen-gw") else base
    out = shared / "hotmaps"
    with (shared / "hotmaps.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "cpu.pb.gz").exists():
            out.mkdir(exist_ok=True)
            binary = out / "hotmaps"
            for command in ([str(go_toolchain.go), "build", "-o", str(binary), "."],
                            [str(binary), str(out)], [str(binary), str(out), "cpu"]):
                proc = subprocess.run(command, cwd=FIXTURE, capture_output=True, text=True,
                                      timeout=600, env=_env())
                assert proc.returncode == 0, proc.stderr
    return Profiles(out / "allocs.pb.gz", out / "cpu.pb.gz")


def lint(target: Path, *args: str) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run(["mapguard", "lint", "./...", "--no-cache", "--format", "json", *args],
                          cwd=target, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"})
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def annotations(root: Path) -> set[tuple[str, int, str, bool]]:
    """(file name, line, rule, demoted) of every annotation."""
    found: set[tuple[str, int, str, bool]] = set()
    for path in sorted(root.glob("*.go")):
        for number, text in enumerate(path.read_text().splitlines(), start=1):
            if match := ANNOTATION.search(text):
                found.update((path.name, number, code, match.group(1) == "demoted")
                             for code in match.group(2).split())
    return found


def reported(document: dict[str, Any]) -> set[tuple[str, int, str, bool]]:
    return {(Path(f["path"]).name, f["line"], f["rule"], f["measured"]["demoted"])
            for f in document["findings"]}


def pprof_lines(profile: Path, sample_index: str) -> dict[tuple[str, int], int]:
    """Flat value per (file name, line) as `go tool pprof -lines -top` prints it."""
    unit = ["-unit=B"] if sample_index == "alloc_space" else ["-unit=ns"]
    proc = run_go(["tool", "pprof", "-lines", "-top", "-nodecount=100000", "-nodefraction=0",
                   f"-sample_index={sample_index}", *unit, str(profile)], timeout=120)
    assert proc.returncode == 0, proc.stderr
    flat: dict[tuple[str, int], int] = {}
    row = re.compile(r"^\s*([\d.]+)(B|ns)\s.*\s(\S+\.go):(\d+)")
    for line in proc.stdout.splitlines():
        if match := row.match(line):
            key = (Path(match.group(3)).name, int(match.group(4)))
            flat[key] = flat.get(key, 0) + int(float(match.group(1)))
    return flat


def test_allocs_profile_reports_exactly_the_hot_sites_and_demotes_the_cold(
        profiles: Profiles) -> None:
    status, document = lint(FIXTURE, "--profile", str(profiles.allocs))
    assert status == 1
    assert reported(document) == annotations(FIXTURE)
    kinds = {rule for _, _, rule, demoted in annotations(FIXTURE) if not demoted}
    assert {"MG011", "MG012"} <= kinds  # the evidence-only rules are part of the bar
    assert document["profile"]["kind"] == "allocs"
    assert document["profile"]["sample_type"] == "alloc_space"


def test_hot_findings_carry_the_profiles_own_bytes(profiles: Profiles) -> None:
    _, document = lint(FIXTURE, "--profile", str(profiles.allocs))
    flat = pprof_lines(profiles.allocs, "alloc_space")
    checked = 0
    for finding in document["findings"]:
        if finding["rule"] not in ("MG011", "MG012"):
            continue
        measured = finding["measured"]
        name = Path(finding["path"]).name
        expected = sum(flat.get((name, line), 0) for line in measured["lines"])
        assert expected > 0, finding
        assert abs(measured["value"] - expected) <= TOLERANCE * expected, (finding, expected)
        quoted = re.search(r"([\d.]+) MiB", finding["message"])
        assert quoted is not None, finding["message"]
        assert abs(float(quoted.group(1)) * (1 << 20) - expected) <= TOLERANCE * expected
        checked += 1
    assert checked >= 5


def test_findings_are_ranked_by_measured_cost(profiles: Profiles) -> None:
    _, document = lint(FIXTURE, "--profile", str(profiles.allocs))
    values = [(f["measured"]["demoted"], -f["measured"]["value"]) for f in document["findings"]]
    assert values == sorted(values)


def test_growth_estimate_names_the_size_the_map_reached(profiles: Profiles) -> None:
    _, document = lint(FIXTURE, "--profile", str(profiles.allocs))
    growth = {Path(f["path"]).name: f["message"] for f in document["findings"]
              if f["rule"] == "MG012"}
    # reachable() visits the 400 nodes of its graph: a table of 512 slots; countBy() counts 60
    # paths: 128 slots (generic code: the slot size is inferred from the table sizes).
    assert "225–448 entries (512 slots)" in growth["graph.go"]
    assert "make(map[int]bool, 448)" in growth["graph.go"]
    assert "57–112 entries (128 slots)" in growth["words.go"]


def test_cpu_profile_ranks_and_demotes_by_map_cpu(profiles: Profiles) -> None:
    """The same judgement from CPU time: map work for the map rules, the whole line for a
    key built per access (MG010)."""
    status, document = lint(FIXTURE, "--profile", str(profiles.cpu))
    assert status == 1
    expected = {a for a in annotations(FIXTURE) if a[2] not in ("MG011", "MG012")}
    assert reported(document) == expected
    assert document["profile"]["kind"] == "cpu"
    assert all(f["measured"]["unit"] == "nanoseconds" for f in document["findings"])


def test_without_a_profile_the_evidence_rules_are_silent() -> None:
    _, document = lint(FIXTURE)
    assert not [f for f in document["findings"] if f["rule"] in ("MG011", "MG012")]
    assert "profile" not in document


def test_a_profile_of_another_revision_joins_only_what_still_matches(
        profiles: Profiles, tmp_path: Path) -> None:
    moved = tmp_path / "hotmaps"
    shutil.copytree(FIXTURE, moved)
    access = moved / "access.go"
    # Three lines above isReservedUser: its declaration moved since the profiled build.
    access.write_text(access.read_text().replace(
        "// isReservedUser", "// A note added after the profile was taken,\n// which moves "
        "the function below.\n\n// isReservedUser", 1))
    _, document = lint(moved, "--profile", str(profiles.allocs))
    rules = {(Path(f["path"]).name, f["rule"]) for f in document["findings"]}
    assert ("access.go", "MG011") not in rules  # never labelled from a moved line
    assert ("graph.go", "MG012") in rules  # the unchanged files still join
    changed = {c["function"] for c in document["profile"]["changed_functions"]}
    assert "main.isReservedUser" in changed
    assert any("do not match the source" in note for note in document["profile"]["notes"])


@pytest.fixture
def served(profiles: Profiles) -> Iterator[str]:
    handler = partial(SimpleHTTPRequestHandler, directory=str(profiles.allocs.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{profiles.allocs.name}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_profile_from_a_url(served: str) -> None:
    _, document = lint(FIXTURE, "--profile", served)
    assert document["profile"]["source"] == served
    assert reported(document) == annotations(FIXTURE)


def test_hot_share_is_a_setting(profiles: Profiles) -> None:
    """At 5 % only the largest sites stay hot: the smaller hot ones go quiet or are demoted."""
    _, document = lint(FIXTURE, "--profile", str(profiles.allocs), "--hot-share", "5")
    found = reported(document)
    assert ("access.go", 11, "MG011", False) not in found  # 2-3 % of the bytes
    assert ("graph.go", 22, "MG012", False) in found  # 30-40 %
