"""Parse 1 M gctrace lines (the bar: <= 5 s), and summarise them.

    .venv/bin/python benchmarks/bench_gctrace.py [--lines N] [--runs R] [--noise F]

The log is synthetic but printed the way the runtime prints it (times through the same
two-significant-digit rule as runtime.fmtNSAsMS, whole MB, Go 1.19+ fields, one `(forced)` in
a thousand cycles), with times drawn from log-normal distributions and a slowly wandering heap;
--noise mixes in that fraction of program-output lines. Reported: the best of --runs, in wall
and CPU seconds, for parse_gctrace alone and for the summary on top.
"""

from __future__ import annotations

import argparse
import os
import random
import time

from mapguard.evidence.gcsummary import summarize_gctrace
from mapguard.formats.gctrace import parse_gctrace


def runtime_ms(ns: float) -> str:
    """A duration as the runtime prints it: whole ms from 10 ms, else two significant digits."""
    whole = int(ns)
    if whole >= 10_000_000:
        return str(whole // 1_000_000)
    micros = whole // 1000
    if micros == 0:
        return "0"
    decimals = 3
    while micros >= 100:
        micros //= 10
        decimals -= 1
    if decimals == 0:
        return str(micros)
    digits = str(micros).rjust(decimals + 1, "0")
    return f"{digits[:-decimals]}.{digits[-decimals:]}"


def synthetic_log(lines: int, noise: float, seed: int = 1) -> str:
    rng = random.Random(seed)
    out: list[str] = []
    at, live, number = 0.0, 200, 0
    while number < lines:
        if rng.random() < noise:
            out.append(f"level=info msg=\"served request\" id={rng.randint(1, 10**9)}")
            continue
        number += 1
        at += rng.expovariate(20)
        live = max(50, live + rng.randint(-5, 5))
        goal = 2 * live
        start, end = int(goal * rng.uniform(0.85, 1.0)), int(goal * rng.uniform(1.0, 1.1))

        def t(mu: float) -> str:
            return runtime_ms(rng.lognormvariate(mu, 1.0))

        line = (f"gc {number} @{at:.3f}s {rng.randint(2, 8)}%: {t(11)}+{t(15)}+{t(11)} ms clock, "
                f"{t(12)}+{t(13)}/{t(15)}/{t(13)}+{t(12)} ms cpu, {start}->{end}->{live} MB, "
                f"{goal} MB goal, {rng.randint(0, 2)} MB stacks, 0 MB globals, 8 P")
        out.append(line + (" (forced)" if rng.random() < 0.001 else ""))
    return "\n".join(out) + "\n"


def best(runs: int, action: object) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        action()  # type: ignore[operator]
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--noise", type=float, default=0.0)
    args = parser.parse_args()

    text = synthetic_log(args.lines, args.noise)
    trace = parse_gctrace(text)
    assert len(trace.cycles) == args.lines and not trace.malformed
    parse_wall, parse_cpu = best(args.runs, lambda: parse_gctrace(text))
    summary_wall, summary_cpu = best(args.runs, lambda: summarize_gctrace(parse_gctrace(text)))
    load = os.getloadavg()[0]
    print(f"{args.lines:,} gctrace lines ({len(text) / 1e6:,.0f} MB, noise {args.noise:.0%}), "
          f"{os.cpu_count()} cores, load {load:.1f}, best of {args.runs}")
    print(f"  parse_gctrace        {parse_wall:6.2f} s wall  {parse_cpu:6.2f} s CPU   (bar: 5 s)")
    print(f"  parse + summary      {summary_wall:6.2f} s wall  {summary_cpu:6.2f} s CPU")


if __name__ == "__main__":
    main()
