"""`mapguard report`: one self-contained HTML file from an evidence bundle."""

from __future__ import annotations

from pathlib import Path

import click

from mapguard.bundle.reader import Bundle, open_bundle
from mapguard.diagnose.commands import parse_threshold
from mapguard.diagnose.engine import DEFAULT_THRESHOLD
from mapguard.diagnose.knowledge import load_knowledge
from mapguard.errors import UsageError
from mapguard.report.build import build_report
from mapguard.report.render import render_html


def write_report(bundle: Bundle, output: Path, *, threshold: float = DEFAULT_THRESHOLD,
                 source: Path | None = None, compare: tuple[str, ...] = (),
                 knowledge: Path | None = None) -> list[str]:
    """Build and write the report; returns the problems met reading the bundle."""
    report = build_report(bundle, load_knowledge(knowledge), threshold=threshold, source=source,
                          compare=compare)
    html = render_html(report)
    try:
        output.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"-o {output}: cannot write: {exc.strerror}") from None
    return report.problems


@click.command("report")
@click.option("--bundle", "bundle_dir", required=True, type=click.Path(path_type=Path),
              help="The evidence bundle directory.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="The HTML file to write (default: DIR/report.html).")
@click.option("--source", type=click.Path(path_type=Path),
              help="The Go source tree (overrides the bundle's): code frames, site links.")
@click.option("--compare", help="Two labels to compare, e.g. before,after (default: before "
                                "and after, or the two labels of the bundle).")
@click.option("--threshold", default=f"{100 * DEFAULT_THRESHOLD:g}%", show_default=True,
              help="Smallest share of its resource a cause must have.")
@click.option("--knowledge", type=click.Path(path_type=Path),
              help="A cause library in place of the shipped one (YAML).")
def report_command(bundle_dir: Path, output: Path | None, source: Path | None,
                   compare: str | None, threshold: str, knowledge: Path | None) -> int:
    """One HTML file: diagnosis, before/after, SLO, map cost, GC, latency, lint, escape.

    The file needs no network to be viewed: plots are embedded, it loads nothing and runs no
    script. Exit status 2 when some evidence could not be read (the report shows the rest).
    """
    limit = parse_threshold(threshold)
    bundle = open_bundle(bundle_dir)
    target = output or bundle_dir / "report.html"
    if not target.parent.is_dir():
        raise UsageError(f"-o {target}: directory {target.parent} does not exist")
    if source is not None and not source.is_dir():
        raise UsageError(f"--source {source}: not a directory")
    labels = tuple(part.strip() for part in compare.split(",")) if compare else ()
    if labels and len(labels) != 2:
        raise UsageError(f"--compare {compare!r}: expected two labels, e.g. before,after")
    problems = write_report(bundle, target, threshold=limit, source=source, compare=labels,
                            knowledge=knowledge)
    click.echo(f"wrote {target} ({target.stat().st_size:,} bytes)")
    for problem in problems:
        click.echo(f"mapguard: {problem}", err=True)
    return 2 if problems else 0
