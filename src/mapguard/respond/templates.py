"""Alert labels into actions: only as whole argument-list elements and as JSON values.

Label values come from the network. A template is written in the configuration (trusted) and
rendered with the alert (untrusted) into exactly one place: one element of a command's argument
list, which no shell reads, or one string value of a JSON body, which `json.dumps` escapes.
Nothing is ever concatenated into a command line or into JSON text.

Templates are Jinja2 (`{{ labels.site }}`, `{{ annotations.summary | truncate(80) }}`) in a
sandbox, with undefined names an error: an alert without the label an action needs is refused,
not run with an empty argument. A rendered argument that starts with `-` where the template
itself does not is refused too: a label value must not turn into an option of the program
(write `--site={{ labels.site }}` to pass a value that may start with a dash).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from mapguard.respond.payload import Alert

_ENVIRONMENT = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False,
                                    keep_trailing_newline=True)


class TemplateRefused(Exception):
    """The alert cannot be rendered into this action; the message says why."""


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


@dataclass(frozen=True, slots=True)
class Template:
    """One string of the configuration, a template or a literal."""

    text: str
    compiled: jinja2.Template | None

    @classmethod
    def compile(cls, text: str) -> Template:
        """Raise ValueError (with Jinja's line and message) when `text` is not a template."""
        if not is_template(text):
            return cls(text, None)
        try:
            return cls(text, _ENVIRONMENT.from_string(text))
        except jinja2.TemplateSyntaxError as exc:
            raise ValueError(f"not a template: {exc.message} (template line {exc.lineno})") \
                from None

    def render(self, context: Mapping[str, Any]) -> str:
        if self.compiled is None:
            return self.text
        try:
            return self.compiled.render(context)
        except jinja2.UndefinedError as exc:
            raise TemplateRefused(f"{self.text!r}: {exc.message}") from None
        except jinja2.TemplateError as exc:
            raise TemplateRefused(f"{self.text!r}: {exc}") from None


def context(alert: Alert) -> dict[str, Any]:
    return {
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "alert": {
            "name": alert.name,
            "status": str(alert.status),
            "fingerprint": alert.fingerprint,
            "starts_at": alert.starts_at.isoformat(),
        },
    }


def render_argument(template: Template, values: Mapping[str, Any]) -> str:
    """One argument-list element."""
    rendered = template.render(values)
    if "\0" in rendered:
        raise TemplateRefused(f"{template.text!r}: the value holds a NUL character, which no "
                              "argument can carry")
    if rendered.startswith("-") and not template.text.startswith("-"):
        raise TemplateRefused(f"{template.text!r}: the value {_short(rendered)} starts with "
                              "'-' and would be read as an option")
    return rendered


def render_name(template: Template, values: Mapping[str, Any], *, pattern: Any,
                what: str) -> str:
    """A name that must match `pattern` (a compiled regex), e.g. a Kubernetes object name."""
    rendered = template.render(values)
    if not pattern.fullmatch(rendered):
        raise TemplateRefused(f"{template.text!r}: {_short(rendered)} is not {what}")
    return rendered


JsonTemplate = Template | Mapping[str, "JsonTemplate"] | list["JsonTemplate"] | int | float | \
    bool | None


def compile_json(value: Any) -> JsonTemplate:
    """A JSON body whose string values (not keys) are templates."""
    if isinstance(value, str):
        return Template.compile(value)
    if isinstance(value, dict):
        return {str(key): compile_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [compile_json(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    raise ValueError(f"{_short(value)} is not a JSON value")


def render_json(body: JsonTemplate, values: Mapping[str, Any]) -> Any:
    """The body as plain data, ready for `json.dumps` (which does all the escaping)."""
    if isinstance(body, Template):
        return body.render(values)
    if isinstance(body, Mapping):
        return {key: render_json(item, values) for key, item in body.items()}
    if isinstance(body, list):
        return [render_json(item, values) for item in body]
    return body


def _short(value: object) -> str:
    text = json.dumps(value) if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
