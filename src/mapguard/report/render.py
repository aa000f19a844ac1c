"""The report as one self-contained HTML file: jinja2 with autoescaping on for every value, a
Content-Security-Policy that allows no script and no request (images are `data:` URIs), and no
script of its own."""

from __future__ import annotations

import re
from importlib import resources

import jinja2

from mapguard.report.build import ReportView

TEMPLATE = "report.html.j2"
_SEPARATOR_END = re.compile(r"(?<=[/)])")  # after a path's `/`, after `(*T)` of a Go name


def separated(text: object) -> list[str]:
    """Text cut after each `/` and `)`, where the template lets paths and Go function names in
    a table wrap instead of widening the page (or splitting mid-word)."""
    return _SEPARATOR_END.split(str(text))


def render_html(report: ReportView) -> str:
    templates = resources.files("mapguard") / "data" / "report"
    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: (templates / name).read_text(encoding="utf-8")),
        autoescape=True,  # every value is text to show, never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    environment.filters["separated"] = separated
    return environment.get_template(TEMPLATE).render(report=report)
