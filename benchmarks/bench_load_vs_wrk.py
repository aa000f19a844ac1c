"""The open-loop engine of `mapguard load` against wrk, on the same riskd endpoint, in one run.

wrk (closed loop, as fast as it can) gives the rate this machine sustains against riskd's
POST /decide; then mapguard's engine is asked for 25 %, 50 %, 75 %, 100 % and 110 % of that
rate, and the achieved send rate is compared with the intended one (held: within 1 %).

    .venv/bin/python benchmarks/bench_load_vs_wrk.py [--seconds 10] [--connections 16]

Needs Go (mapguard finds it) and wrk (apt-get install wrk). Prints the machine's load first:
on a shared machine the ratios mean more than the absolute rates.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mapguard.demo.command import demo_root
from mapguard.gotool import require_go, run_go
from mapguard.load.engine import engine_binary, run_engine
from mapguard.load.plan import LoadPlan, Step
from mapguard.load.results import step_results

BODY = json.dumps({"tenant": "acme", "subject": "u1",
                   "attributes": {"amount": 6000, "country": "NG", "device": "emulator-x86"}})
SHARES = (0.25, 0.5, 0.75, 1.0, 1.1)


def start_riskd(directory: Path) -> tuple[subprocess.Popen[str], str]:
    binary = directory / "riskd"
    proc = run_go(["build", "-o", str(binary), "."], cwd=demo_root() / "after",
                  env={"GOTOOLCHAIN": "local"})
    if proc.returncode != 0:
        sys.exit(f"go build: {proc.stderr}")
    server = subprocess.Popen([str(binary), "-addr", "127.0.0.1:0"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    assert server.stdout is not None
    found = re.search(r"listening on (\S+)", server.stdout.readline())
    if not found:
        server.kill()
        sys.exit("riskd did not start")
    return server, f"http://{found.group(1)}/decide"


def children_cpu_s() -> float:
    """CPU seconds of the children waited for so far (wrk and the engine, not riskd)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wrk_rate(wrk: str, url: str, seconds: int, connections: int, directory: Path) -> float:
    script = directory / "post.lua"
    script.write_text(f'wrk.method = "POST"\nwrk.body = {json.dumps(BODY)}\n'
                      'wrk.headers["Content-Type"] = "application/json"\n')
    out = subprocess.run([wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script),
                          url], capture_output=True, text=True, check=True).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if not found or errors:
        sys.exit(f"wrk said:\n{out}")
    return float(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16, help="wrk's connections")
    args = parser.parse_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    toolchain = require_go()
    engine = engine_binary(toolchain)
    print(f"machine: {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}; {toolchain.full_version}")
    with tempfile.TemporaryDirectory(prefix="mapguard-bench-load-") as tmp:
        server, url = start_riskd(Path(tmp))
        try:
            cpu = children_cpu_s()
            reference = wrk_rate(wrk, url, args.seconds, args.connections, Path(tmp))
            wrk_cpu_ms = 1e6 * (children_cpu_s() - cpu) / (reference * args.seconds)
            print(f"wrk -t1 -c{args.connections} -d{args.seconds}s: {reference:,.0f} requests/s "
                  f"(closed loop, riskd POST /decide), {wrk_cpu_ms:.1f} CPU ms per 1,000 "
                  "requests\n")
            print(f"{'intended/s':>11} {'of wrk':>7} {'sent/s':>10} {'behind':>8} "
                  f"{'answered/s':>11} {'p50 ms':>8} {'p99 ms':>9} {'lag p99':>8} "
                  f"{'CPU ms/1k':>9}  verdict")
            held = []
            for share in SHARES:
                rate = round(reference * share)
                plan = LoadPlan(url, "POST", (Step(rate, 1, warmup=True),
                                              Step(rate, args.seconds)),
                                bodies=(BODY,), headers=(("Content-Type", "application/json"),))
                cpu = children_cpu_s()
                (step,) = step_results(plan, run_engine(plan, binary=engine)).steps
                engine_cpu_ms = 1e6 * (children_cpu_s() - cpu) / max(1, step.sent + rate)
                latency = step.latency
                if step.held:
                    held.append(share)
                print(f"{rate:>11,} {share:>7.0%} {step.achieved_rate:>10,.0f} "
                      f"{step.behind:>8.2%} {step.answered / step.seconds:>11,.0f} "
                      f"{latency.at(50.0) if latency else float('nan'):>8.2f} "
                      f"{latency.at(99.0) if latency else float('nan'):>9.1f} "
                      f"{step.lag_p99_ms or 0:>8.2f} {engine_cpu_ms:>9.1f}  {step.rate_verdict}")
        finally:
            server.kill()
            server.wait()
    best = max(held, default=None)
    print(f"\nheld within 1 % up to {best:.0%} of wrk's rate" if best is not None
          else "\nnot held at any of the rates")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
