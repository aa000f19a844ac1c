"""The report's paths and Go names: still escaped, and may wrap only at their separators."""

from __future__ import annotations

import re
from importlib import resources

import jinja2

from mapguard.report.render import separated


def test_text_is_cut_only_after_separators() -> None:
    assert separated("/usr/local/go/src/net/http/server.go:1048") == [
        "/", "usr/", "local/", "go/", "src/", "net/", "http/", "server.go:1048"]
    assert separated("risk.(*Server).handleDecide") == ["risk.(*Server)", ".handleDecide"]


def test_the_templates_wrap_macro_escapes_every_part() -> None:
    template = (resources.files("mapguard") / "data" / "report" / "report.html.j2").read_text()
    macro = re.search(r"{% macro wrap\(text\) %}.*?{% endmacro %}", template)
    assert macro is not None
    environment = jinja2.Environment(autoescape=True)
    environment.filters["separated"] = separated
    shown = environment.from_string(macro[0] + "{{ wrap(x) }}").render(x="<script>x</script>")
    assert shown == "&lt;script&gt;x&lt;/<wbr>script&gt;"
