"""Generate rules for 100 SLOs (the bar: < 1 s), from spec text to the rule file's YAML.

    .venv/bin/python benchmarks/bench_slo_generate.py [--slos 100] [--runs 7]

The spec is one mapguard/v1 file: a mix of Sloth-style events SLIs (half with multi-line
queries), histogram latency SLIs and raw ratio SLIs, objectives from 95 % to 99.999 % and periods
of 7d, 28d, 30d and 90d, plus 10 map guards. Timed: reading and validating the spec, the
generation chain (SLI, metadata, alerts, guards) and rendering the YAML — what
`mapguard slo generate spec.yaml -o rules.yml` does before writing, without starting Python or
running promtool. Reported: median and best of --runs (wall seconds), the same for building the
promtool tests, and the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from mapguard.slo.generate import generate
from mapguard.slo.promtool_tests import build_tests, render_tests
from mapguard.slo.rules import render
from mapguard.slo.spec import load_specs

OBJECTIVES = ["95", "99", "99.5", "99.9", "99.95", "99.99", "99.999"]
PERIODS = ["7d", "28d", "30d", "90d"]


def sli(index: int) -> str:
    kind = index % 3
    if kind == 0:
        return (
            "events:\n"
            "        error_query: |\n"
            f'          sum(rate(http_requests_total{{job="svc{index}",code=~"5.."}}'
            "[{{.window}}]))\n"
            f'        total_query: sum(rate(http_requests_total{{job="svc{index}"}}'
            "[{{.window}}]))"
        )
    if kind == 1:
        return (
            "latency: {histogram: http_request_duration_seconds, le: \"0.25\", "
            f"selector: 'job=\"svc{index}\"'}}"
        )
    return (
        "raw:\n"
        f"        error_ratio_query: sum(rate(errors_total{{job=\"svc{index}\"}}[{{{{.window}}}}]))"
        f" / sum(rate(requests_total{{job=\"svc{index}\"}}[{{{{.window}}}}]))"
    )


def spec_text(count: int) -> str:
    slos = "".join(
        f"""
  - name: slo-{index}
    objective: {OBJECTIVES[index % len(OBJECTIVES)]}
    period: {PERIODS[index % len(PERIODS)]}
    labels: {{owner: team-{index % 7}}}
    sli:
      {sli(index)}
    alerting:
      runbook_url: https://runbooks.example.com/slo-{index}
"""
        for index in range(count)
    )
    guards = "".join(
        f"\n  - target: svc{index}\n    gc_pause_max_seconds: 0.05\n"
        f"    goroutine_growth_per_hour: 500\n"
        for index in range(10)
    )
    return f"version: mapguard/v1\nservice: bench\nslos:{slos}map_guards:{guards}"


def timed(step: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return times


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}, {cores} cores, Python {platform.python_version()}, {platform.system()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slos", type=int, default=100)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_text(spec_text(args.slos), encoding="utf-8")
        rules_text = ""

        def rules() -> None:
            nonlocal rules_text
            rules_text = render(generate(load_specs([path])))

        generation = timed(rules, args.runs)
        specs = load_specs([path])
        groups = generate(specs)
        tests = timed(lambda: render_tests(build_tests(specs, groups, "rules.yml")[0]), 3)
    rule_count = sum(len(group.rules) for group in groups)
    median = statistics.median(generation)
    print(f"machine: {machine()}")
    print(f"spec: {args.slos} SLOs + 10 map guards -> {len(groups)} groups, {rule_count} rules, "
          f"{len(rules_text) / 1024:.0f} KiB of YAML")
    print(f"generate (load, validate, rules, YAML): median {median:.3f} s, "
          f"best {min(generation):.3f} s over {args.runs} runs")
    print(f"promtool tests (simulation, YAML): median {statistics.median(tests):.3f} s")
    verdict = "PASS" if median < 1 else "FAIL"
    print(f"{verdict}: generation for {args.slos} SLOs {'<' if median < 1 else '>='} 1 s")
    return 0 if median < 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
