"""`mapguard trace` against its anchor, `go tool trace -d=parsed`, on the same trace file.

    .venv/bin/python benchmarks/bench_trace.py [--megabytes 13] [--runs 3]

The trace is written by a small Go program (built here, in a temporary directory): goroutine
pairs ping-pong over channels and fill maps under GC, so the trace is mostly scheduling
events, as a busy service's is. It runs until its trace reaches --megabytes. Each tool then
reads the file --runs times, alternating; reported: the best wall time and the CPU time (user +
system of the process and its children) of each, and their ratios.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mapguard.gotool import require_go

PROGRAM = """package main

import (
	"os"
	"runtime/trace"
	"sync"
	"time"
)

var keep []map[int][]byte
var mu sync.Mutex

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	d, err := time.ParseDuration(os.Args[2])
	if err != nil {
		panic(err)
	}
	if err := trace.Start(f); err != nil {
		panic(err)
	}
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for p := 0; p < 4; p++ {
		ping, pong := make(chan int), make(chan int)
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				ping <- i
				<-pong
				if i%64 == 0 {
					m := make(map[int][]byte)
					for k := 0; k < 500; k++ {
						m[k] = make([]byte, 64)
					}
					mu.Lock()
					keep = append(keep, m)
					if len(keep) > 100 {
						keep = keep[1:]
					}
					mu.Unlock()
				}
			}
			close(ping)
		}()
		go func() {
			defer wg.Done()
			for v := range ping {
				pong <- v
			}
		}()
	}
	wg.Wait()
	trace.Stop()
	if err := f.Close(); err != nil {
		panic(err)
	}
}
"""


def write_trace(directory: Path, megabytes: float) -> Path:
    go = require_go()
    (directory / "go.mod").write_text("module example.com/tracegen\n\ngo 1.22\n")
    (directory / "main.go").write_text(PROGRAM)
    binary = directory / "tracegen"
    subprocess.run([str(go.go), "build", "-o", str(binary), "."], cwd=directory, check=True)
    path = directory / "trace.out"
    seconds = 0.5
    for _ in range(10):
        subprocess.run([str(binary), str(path), f"{seconds:.3f}s"], check=True)
        size = path.stat().st_size / 1e6
        if megabytes <= size <= 1.25 * megabytes:
            return path
        # The event rate depends on the machine's load: aim again from what this run wrote.
        seconds *= (1.1 * megabytes) / max(size, 0.1)
    raise SystemExit(f"could not write a {megabytes} MB trace (got {size:.1f} MB)")


def measure(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, the command and its children) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=float, default=13.0)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    go = require_go()
    mapguard = str(Path(sys.executable).with_name("mapguard"))
    with tempfile.TemporaryDirectory(prefix="bench-trace-") as tmp:
        path = write_trace(Path(tmp), options.megabytes)
        anchor = [str(go.go), "tool", "trace", "-d=parsed", str(path)]
        ours = [mapguard, "trace", str(path)]
        results: dict[str, list[tuple[float, float]]] = {"go tool trace": [], "mapguard": []}
        for _ in range(options.runs):
            results["go tool trace"].append(measure(anchor))
            results["mapguard"].append(measure(ours))
        size = path.stat().st_size / 1e6
    print(f"trace: {size:.1f} MB ({go.full_version}); machine: {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f}; best of {options.runs}")
    best = {name: (min(w for w, _ in runs), min(c for _, c in runs))
            for name, runs in results.items()}
    for name, (wall, cpu) in best.items():
        print(f"  {name:14s} wall {wall:6.2f} s   cpu {cpu:6.2f} s")
    anchor_wall, anchor_cpu = best["go tool trace"]
    wall, cpu = best["mapguard"]
    print(f"  ratio (mapguard / go tool trace -d=parsed): wall {wall / anchor_wall:.2f}x, "
          f"cpu {cpu / anchor_cpu:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
