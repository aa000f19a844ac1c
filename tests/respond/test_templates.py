"""Label values go into one argument each, or into JSON strings: never into a shell, never
split, never read as an option."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from mapguard.respond.payload import Alert, Status
from mapguard.respond.templates import (
    Template,
    TemplateRefused,
    compile_json,
    context,
    render_argument,
    render_json,
)

HOSTILE = [
    "$(touch /tmp/pwned)",
    "a; touch /tmp/pwned",
    "`touch /tmp/pwned`",
    "line one\nline two; rm -rf /",
    "' \" \\ {{ 7*7 }} {% raw %}",
    "a && b || c > d < e | f & g",
    "\u202etxt.exe",  # right-to-left override
]


def _alert(**labels: str) -> Alert:
    return Alert(Status.FIRING, {"alertname": "X", **labels}, {"summary": "s"},
                 datetime(2030, 1, 1, tzinfo=UTC), "0123456789abcdef", "")


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_value_is_one_argument_exactly(value: str) -> None:
    values = context(_alert(site=value))
    assert render_argument(Template.compile("{{ labels.site }}"), values) == value
    assert render_argument(Template.compile("--site={{ labels.site }}"), values) == \
        f"--site={value}"


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_value_is_one_json_string_exactly(value: str) -> None:
    body = compile_json({"site": "{{ labels.site }}", "n": 1, "list": ["{{ labels.site }}x"],
                         "fixed": "no template", "none": None})
    encoded = json.dumps(render_json(body, context(_alert(site=value))))
    assert json.loads(encoded) == {"site": value, "n": 1, "list": [value + "x"],
                                   "fixed": "no template", "none": None}


def test_values_are_not_templates_themselves() -> None:
    # A label value that looks like a template stays text: it is data, not code.
    values = context(_alert(site="{{ 7*7 }}"))
    assert render_argument(Template.compile("{{ labels.site }}"), values) == "{{ 7*7 }}"


def test_a_value_that_would_be_an_option_is_refused() -> None:
    values = context(_alert(site="--kubeconfig=/tmp/evil"))
    with pytest.raises(TemplateRefused, match="starts with '-' and would be read as an option"):
        render_argument(Template.compile("{{ labels.site }}"), values)
    assert render_argument(Template.compile("--site={{ labels.site }}"), values) == \
        "--site=--kubeconfig=/tmp/evil"


def test_a_missing_label_is_refused_not_rendered_empty() -> None:
    with pytest.raises(TemplateRefused, match="has no attribute 'site'"):
        render_argument(Template.compile("--site={{ labels.site }}"), context(_alert()))


def test_nul_cannot_be_an_argument() -> None:
    with pytest.raises(TemplateRefused, match="NUL"):
        render_argument(Template.compile("{{ labels.site }}"), context(_alert(site="a\0b")))


def test_the_sandbox_keeps_templates_away_from_python_internals() -> None:
    template = Template.compile("{{ labels.__class__.__mro__ }}")
    with pytest.raises(TemplateRefused):
        render_argument(template, context(_alert()))


def test_what_a_template_can_read() -> None:
    values = context(_alert(site="a"))
    text = "{{ alert.name }} {{ alert.status }} {{ alert.fingerprint }} {{ alert.starts_at }} " \
           "{{ annotations.summary }} {{ labels.site | upper }}"
    assert render_argument(Template.compile(text), values) == \
        "X firing 0123456789abcdef 2030-01-01T00:00:00+00:00 s A"


def test_literals_are_not_templates() -> None:
    assert Template.compile("{not a template}").compiled is None
    with pytest.raises(ValueError, match="not a template"):
        Template.compile("{{ unclosed")
