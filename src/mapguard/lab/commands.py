"""`mapguard lab`: measure map-update strategies on this machine's Go and check the claims."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from mapguard.clikit import emit_json, format_option, progress_bar
from mapguard.errors import UsageError
from mapguard.gotool import require_go
from mapguard.lab.claims import evaluate
from mapguard.lab.plan import GROUPS, make_plan
from mapguard.lab.report import crossovers, render_claims_markdown, render_text, report_json
from mapguard.lab.runner import run_lab


def _output_dir(output: Path) -> Path:
    if output.exists() and not output.is_dir():
        raise UsageError(f"-o {output}: exists and is not a directory")
    if not output.parent.is_dir():
        raise UsageError(f"-o {output}: directory {output.parent} does not exist")
    output.mkdir(exist_ok=True)
    return output


@click.command()
@click.option("--quick", is_flag=True, help="Fewer sizes, shorter runs (about 2 minutes).")
@click.option("--only", default=None, metavar="GROUPS",
              help=f"Comma-separated groups to run: {', '.join(GROUPS)} (default: all).")
@format_option()
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Directory for the report, claims, raw results and plots (PNG and SVG).")
def lab(quick: bool, only: str | None, output_format: str, output: Path | None) -> int:
    """Measure map-update strategies with your Go on this machine: tables, plots, crossovers,
    and a claims table (each claim about Go maps, mapguard's own rule texts included, with a
    measured verdict).

    \b
    mapguard lab --quick
    mapguard lab --only clear,pool,sync -o lab/
    """
    groups = [name.strip() for name in only.split(",") if name.strip()] if only else None
    plan = make_plan(quick, groups)
    directory = _output_dir(output) if output is not None else None
    toolchain = require_go()
    with progress_bar("lab", "steps") as progress:
        run = run_lab(plan, toolchain, progress)
    claims = evaluate(run)
    said = crossovers(run)
    text = render_text(run, claims, said)
    document = report_json(run, claims, said)
    if directory is not None:
        (directory / "lab.txt").write_text(text, encoding="utf-8")
        (directory / "lab.json").write_text(json.dumps({"version": 1, **document}, indent=2)
                                            + "\n", encoding="utf-8")
        (directory / "claims.md").write_text(render_claims_markdown(run, claims),
                                             encoding="utf-8")
        (directory / "results.txt").write_text(run.timings_text + run.facts_text,
                                                encoding="utf-8")
        from mapguard.lab.plots import write_plots

        write_plots(run, directory)
    if output_format == "json":
        emit_json(document)
    else:
        sys.stdout.write(text)
        if directory is not None:
            sys.stdout.write(f"\nwritten to {directory}/: lab.txt, lab.json, claims.md, "
                             f"results.txt, and a PNG and an SVG plot per group\n")
    return 0
