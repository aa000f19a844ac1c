"""`mapguard bench run|compare|calibrate`: thin commands over the bench package."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import click

from mapguard.bench.calibrate import (
    NoiseFloors,
    floors_from,
    floors_json,
    machine_description,
    read_floors,
)
from mapguard.bench.gate import FailRule, unmatched_rules, violations
from mapguard.bench.inputs import read_bench_file, require_results
from mapguard.bench.projection import FILE, Filter, Projection, parse_keys
from mapguard.bench.render import Report, render_markdown, render_text, report_json
from mapguard.bench.revisions import checkouts
from mapguard.bench.runner import (
    RoundPlan,
    Side,
    bench_regex_for,
    build_test_binary,
    go_test_command,
    run_rounds,
)
from mapguard.bench.statistics import ALPHA
from mapguard.bench.tables import LabelledFile, build_tables
from mapguard.bench.verdicts import decide
from mapguard.bundle.options import bundle_options, open_bundle_writer
from mapguard.bundle.writer import BundleWriter
from mapguard.clikit import AFTER_DASHES, CommandAfterDashes, emit_json, progress_bar
from mapguard.errors import ToolError, UsageError
from mapguard.formats.benchfmt import parse_benchfmt
from mapguard.gotool import GoToolchain, go_environment, require_go


@click.group()
def bench() -> None:
    """Run Go benchmarks, compare them like benchstat, and gate CI on the verdict."""


# --- run ------------------------------------------------------------------------------------


@bench.command(cls=CommandAfterDashes)
@click.argument("packages", nargs=-1)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Save the results to this file (default: standard output).")
@click.pass_context
def run(ctx: click.Context, packages: tuple[str, ...], output: Path | None) -> int:
    """Run `go test -bench` and save its results in the Go benchmark format.

    \b
    mapguard bench run ./pkg -- -bench . -count 10 -o old.txt
    Flags after -- go to `go test`; -run '^$', -bench . and -benchmem are added unless given.
    """
    go_args: list[str] = ctx.meta.get(AFTER_DASHES, [])
    if output is not None and not output.parent.is_dir():
        raise UsageError(f"-o {output}: directory {output.parent} does not exist")
    toolchain = require_go()
    command = [str(toolchain.go), *go_test_command(packages, go_args)]
    lines: list[str] = []
    results = 0
    with progress_bar("benchmarking", "results") as progress:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True,
                                env=go_environment(toolchain))
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Benchmark") and len(line.split()) > 2:
                results += 1
                if progress is not None:
                    progress(results, 0)
        status = proc.wait()
    text = "".join(lines)
    if output is not None:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if status != 0:
        raise ToolError(f"`go test` exited with status {status}"
                        + (f"; the output so far is in {output}" if output else ""))
    parsed = parse_benchfmt(text, str(output or "<go test>"))
    for problem in parsed.problems:
        click.echo(f"mapguard: {problem}", err=True)
    click.echo(f"mapguard: {len(parsed.results)} results"
               + (f" saved to {output}" if output else ""), err=True)
    return 2 if parsed.problems else 0


# --- compare --------------------------------------------------------------------------------


def _projection(row: str | None, col: str | None, ignore: str | None) -> Projection:
    default = Projection()
    return Projection(
        row=parse_keys(row, "--row") if row else default.row,
        col=parse_keys(col, "--col") if col else default.col,
        ignore=parse_keys(ignore, "--ignore") if ignore else (),
    )


def _rounds_options(function: Callable[..., int]) -> Callable[..., int]:
    for option in reversed([
        click.option("--bench", "bench_regex", default=".", show_default=True,
                     help="Benchmarks to run (a -test.bench regular expression)."),
        click.option("--count", default=10, show_default=True, type=int,
                     help="Runs per side (rounds)."),
        click.option("--benchtime", default=None,
                     help="Time or iterations per benchmark and run (-test.benchtime)."),
        click.option("--cpu", default=None, help="GOMAXPROCS values (-test.cpu)."),
    ]):
        function = option(function)
    return function


@bench.command()
@click.argument("inputs", nargs=-1)
@click.option("--rev", "revisions", multiple=True,
              help="Compare git revisions: give --rev twice and one package directory.")
@click.option("--fail-on", "fail_on", multiple=True,
              help="Exit 1 when a change breaks this rule, e.g. 'sec/op>+5%', 'allocs/op>0'.")
@click.option("--confirm", is_flag=True,
              help="With --rev: rerun the benchmarks that broke a rule once, and fail only if "
                   "they break it again.")
@click.option("--noise", "noise_file", type=click.Path(path_type=Path),
              help="Noise floors from `mapguard bench calibrate -o`.")
@click.option("--alpha", default=ALPHA, show_default=True, type=click.FloatRange(0, 1),
              help="Significance level, after Holm–Bonferroni.")
@click.option("--row", default=None, help="Keys for rows (default .fullname).")
@click.option("--col", default=None, help="Keys for columns (default .file).")
@click.option("--ignore", default=None, help="Keys to ignore when grouping.")
@click.option("--filter", "filter_text", default=None,
              help="Keep only matching results, e.g. '/size:1024 .unit:ns/op'.")
@click.option("--save", "save_dir", type=click.Path(path_type=Path, file_okay=False),
              help="With --rev: save each revision's results as DIR/<label>.txt.")
@_rounds_options
@click.option("--format", "output_format", default="text", show_default=True,
              type=click.Choice(["text", "json", "markdown"]), help="Output format.")
@bundle_options
def compare(inputs: tuple[str, ...], revisions: tuple[str, ...], fail_on: tuple[str, ...],
            confirm: bool, noise_file: Path | None, alpha: float, row: str | None,
            col: str | None, ignore: str | None, filter_text: str | None,
            save_dir: Path | None, bench_regex: str, count: int, benchtime: str | None,
            cpu: str | None, output_format: str, bundle_dir: Path | None,
            bundle_label: str) -> int:
    """Compare benchmark results: medians, 95% CIs, p-values, "~" (benchstat's table), then
    verdicts corrected for multiple comparisons, and a CI gate.

    \b
    mapguard bench compare old.txt new.txt
    mapguard bench compare old.txt new.txt --fail-on 'sec/op>+5%' --format markdown
    mapguard bench compare --rev main --rev HEAD ./pkg --count 10
    Exit status: 1 when a --fail-on rule is broken, 2 on bad input, else 0.
    """
    rules = [FailRule.parse(text) for text in fail_on]
    bundle = open_bundle_writer(bundle_dir, bundle_label, "mapguard bench compare")
    projection = _projection(row, col, ignore)
    result_filter = Filter.parse(filter_text) if filter_text else Filter()
    floors = read_floors(noise_file) if noise_file is not None else None
    if save_dir is not None and not save_dir.is_dir():
        raise UsageError(f"--save {save_dir}: not an existing directory")
    if revisions:
        if len(revisions) != 2 or len(inputs) != 1:
            raise UsageError("--rev needs exactly two revisions and one package directory: "
                             "--rev A --rev B ./pkg")
        plan = RoundPlan(bench_regex, count, benchtime, cpu)
        return _compare_revisions(
            Path(inputs[0]), revisions, plan, save_dir,
            lambda files, rerun: _compare_files(files, rules, projection, result_filter, floors,
                                                alpha, output_format, rerun if confirm else None,
                                                bundle, bundle_label),
        )
    if confirm:
        raise UsageError("--confirm reruns benchmarks, so it needs --rev (files cannot be rerun)")
    if save_dir is not None:
        raise UsageError("--save needs --rev (it saves the runs --rev makes)")
    if not inputs:
        raise UsageError("give benchmark files to compare (or --rev A --rev B ./pkg)")
    files = [read_bench_file(argument) for argument in inputs]
    return _compare_files(files, rules, projection, result_filter, floors, alpha, output_format,
                          None, bundle, bundle_label)


def _compare_files(files: Sequence[LabelledFile], rules: Sequence[FailRule],
                   projection: Projection, result_filter: Filter, floors: NoiseFloors | None,
                   alpha: float, output_format: str,
                   rerun: Rerun | None, bundle: BundleWriter | None = None,
                   label: str = "") -> int:
    for file in files:
        require_results(file.parsed)
    if projection.col == (FILE,) and len({file.label for file in files}) != len(files):
        raise UsageError("two inputs have the same name: label them, e.g. old=a.txt new=b.txt")
    tables = build_tables(files, projection, result_filter, alpha=alpha)
    lookup = floors.lookup() if floors else None
    verdicts = decide(tables, lookup, alpha)
    broken = violations(rules, verdicts)
    confirmed = None
    notes = [f"--fail-on {rule.text}: no compared row has unit {rule.unit}"
             for rule in unmatched_rules(rules, verdicts)]
    if lookup is not None:
        missing = sorted({row.benchmark for row in verdicts if row.floor is None})
        if missing:
            notes.append(f"no noise floor for {len(missing)} benchmark(s), e.g. {missing[0]}")
    if rerun is not None and broken:
        again = rerun(sorted({violation.row.benchmark for violation in broken}))
        again_tables = build_tables(again, projection, result_filter, alpha=alpha)
        again_broken = violations(rules, decide(again_tables, lookup, alpha))
        held = {(v.rule.text, v.row.benchmark, v.row.unit) for v in again_broken}
        confirmed = [v for v in broken if (v.rule.text, v.row.benchmark, v.row.unit) in held]
    problems = [str(problem) for file in files for problem in file.parsed.problems]
    report = Report(tables, verdicts, rules, broken, confirmed, problems,
                    floors.source if floors else None, alpha, notes)
    if output_format == "json":
        emit_json(report_json(report))
    elif output_format == "markdown":
        sys.stdout.write(render_markdown(report))
    else:
        sys.stdout.write(render_text(report))
    for problem in problems:
        click.echo(f"mapguard: {problem}", err=True)
    if bundle is not None:
        bundle.add_json("bench", label, {"version": 1, **report_json(report)})
    if problems:
        return 2
    return 1 if report.failing else 0


Rerun = Callable[[list[str]], list[LabelledFile]]


def _compare_revisions(package: Path, revisions: Sequence[str], plan: RoundPlan,
                       save_dir: Path | None,
                       then: Callable[[list[LabelledFile], Rerun], int]) -> int:
    """Build both revisions, run them in rounds, and compare (`then`) while the binaries still
    exist, so that --confirm can rerun them."""
    toolchain = require_go()
    labels = list(revisions) if revisions[0] != revisions[1] else [
        f"{revisions[0]}#1", f"{revisions[1]}#2"]
    with tempfile.TemporaryDirectory(prefix="mapguard-bench-bin-") as scratch, \
            checkouts(package, revisions) as trees:
        sides = [
            Side(label, build_test_binary(tree.package_dir, Path(scratch) / f"side{index}.test",
                                          toolchain), tree.package_dir)
            for index, (label, tree) in enumerate(zip(labels, trees, strict=True))
        ]
        files = _interleaved(sides, plan, toolchain, None, save_dir)

        def rerun(benchmarks: list[str]) -> list[LabelledFile]:
            return _interleaved(sides, plan, toolchain, bench_regex_for(benchmarks), None)

        return then(files, rerun)


def _interleaved(sides: Sequence[Side], plan: RoundPlan, toolchain: GoToolchain,
                 bench_regex: str | None, save_dir: Path | None) -> list[LabelledFile]:
    with progress_bar("benchmarking", "runs") as progress:
        outputs = run_rounds(sides, plan, toolchain, bench=bench_regex, progress=progress)
    files = []
    for side in sides:
        text = outputs[side.label]
        source = f"{side.label} (runs)"
        if save_dir is not None:
            path = save_dir / f"{_safe(side.label)}.txt"
            path.write_text(text, encoding="utf-8")
            source = str(path)
        files.append(LabelledFile(side.label, parse_benchfmt(text, source)))
    return files


def _safe(label: str) -> str:
    return "".join(char if char.isalnum() or char in "._-" else "_" for char in label)


# --- calibrate ------------------------------------------------------------------------------


@bench.command()
@click.argument("package", default=".")
@_rounds_options
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the noise floors to this JSON file (for compare --noise).")
@click.option("--format", "output_format", default="text", show_default=True,
              type=click.Choice(["text", "json"]), help="Output format.")
def calibrate(package: str, bench_regex: str, count: int, benchtime: str | None,
              cpu: str | None, output: Path | None, output_format: str) -> int:
    """Measure this machine's noise floor per benchmark with A/A runs of the same code.

    \b
    mapguard bench calibrate ./pkg --count 10 -o noise.json
    mapguard bench compare --rev main --rev HEAD ./pkg --noise noise.json --fail-on 'sec/op>+5%'
    """
    if output is not None and not output.parent.is_dir():
        raise UsageError(f"-o {output}: directory {output.parent} does not exist")
    plan = RoundPlan(bench_regex, count, benchtime, cpu)
    toolchain = require_go()
    directory = Path(package)
    with tempfile.TemporaryDirectory(prefix="mapguard-calibrate-") as scratch:
        binary = build_test_binary(directory, Path(scratch) / "aa.test", toolchain)
        sides = [Side("A", binary, directory), Side("B", binary, directory)]
        files = _interleaved(sides, plan, toolchain, None, None)
    for file in files:
        require_results(file.parsed)
    tables = build_tables(files)
    floors = NoiseFloors(floors_from(tables), toolchain.full_version, machine_description(),
                         str(output or ""))
    document = floors_json(floors)
    if output is not None:
        output.write_text(json.dumps({"version": 1, **document}, indent=2) + "\n",
                          encoding="utf-8")
    if output_format == "json":
        emit_json(document)
    else:
        _print_floors(floors, count, output)
    return 0


def _print_floors(floors: NoiseFloors, count: int, output: Path | None) -> None:
    width = max((len(floor.benchmark) for floor in floors.floors), default=9)
    load = floors.machine.get("load_average")
    print(f"noise floors from {count} A/A runs per side, {floors.go_version}, load {load}: the "
          f"change of medians that identical code exceeds 5% of the time")
    print(f"{'benchmark':<{width}}  {'unit':<10} {'floor':>8}  {'A/A change':>10}  A/A p")
    for floor in floors.floors:
        change = "?" if floor.aa_delta is None else f"{floor.aa_delta * 100:+.2f}%"
        p = "-" if floor.aa_p is None else f"{floor.aa_p:.3f}"
        print(f"{floor.benchmark:<{width}}  {floor.unit:<10} {floor.floor * 100:>7.2f}%  "
              f"{change:>10}  {p}")
    if output is not None:
        print(f"saved to {output}")
