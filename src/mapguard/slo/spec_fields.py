"""Field types shared by the spec formats, each validating one thing and saying what it expects."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from mapguard.slo.durations import (
    DURATION_EXPECTED,
    Duration,
    parse_duration,
    parse_duration_or_zero,
)
from mapguard.slo.model import WINDOW_TEMPLATE
from mapguard.slo.numbers import to_decimal
from mapguard.slo.promql import PromQLSyntaxError, Unsupported, parse, parse_matchers

LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
RESERVED_PREFIX = "mapguard_"


class SpecModel(BaseModel):
    """Specs keep unknown keys so each format can decide: warning (Sloth) or error (mapguard)."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


def _scalar_text(value: Any) -> Any:
    # YAML turns `tier: 1` or `enabled: true` into numbers and booleans; labels are text.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return repr(value) if isinstance(value, float) else str(value)
    return value


def _label_name(name: str) -> str:
    # Any UTF-8 text is a label name since Prometheus 3 (and Sloth accepts it); classic names
    # are checked where rules are written (a warning: promtool 2 rejects the others).
    if not name or "\n" in name:
        raise ValueError(f"{name!r} is not a Prometheus label name")
    if name.startswith("__"):
        raise ValueError(f"{name!r}: names starting with __ are reserved by Prometheus")
    if name.startswith(RESERVED_PREFIX):
        raise ValueError(f"{name!r}: the {RESERVED_PREFIX} prefix is reserved for mapguard")
    return name


def _one_line(text: str) -> str:
    if not text.strip() or "\n" in text:
        raise ValueError(f"{text!r} is empty or spans several lines")
    return text


def _objective(value: Any) -> Decimal:
    number = to_decimal(value)
    if not Decimal(0) < number < Decimal(100):
        raise ValueError(
            f"{number} is outside (0, 100)"
            + ("; a 100 % objective leaves no error budget to burn" if number == 100 else "")
        )
    return number


def _sloth_objective(value: Any) -> Decimal:
    # Sloth accepts 100 (every error then burns a zero budget): so do we, with a warning.
    number = to_decimal(value)
    if not Decimal(0) < number <= Decimal(100):
        raise ValueError(f"{number} is outside (0, 100]")
    return number


def _positive(value: Any) -> Decimal:
    number = to_decimal(value)
    if number <= 0:
        raise ValueError(f"{number} is not positive")
    return number


def _non_negative(value: Any) -> Decimal:
    number = to_decimal(value)
    if number < 0:
        raise ValueError(f"{number} is negative")
    return number


def _windowed_query(query: str) -> str:
    if not WINDOW_TEMPLATE.search(query):
        raise ValueError("the query has no {{.window}} template variable")
    check_promql(query)
    return query.strip()


def check_promql(query: str) -> None:
    """Raise ValueError unless `query` (with ``{{.window}}`` filled in) is PromQL."""
    try:
        parse(query)
    except PromQLSyntaxError as exc:
        raise ValueError(f"not PromQL: {exc}") from None
    except Unsupported:
        pass  # valid PromQL that mapguard cannot simulate: fine for rules


def _matchers(text: str) -> str:
    try:
        parse_matchers(text)
    except PromQLSyntaxError as exc:
        raise ValueError(f"not label matchers: {exc}") from None
    return text.strip().removeprefix("{").removesuffix("}").strip()


def _metric_name(name: str) -> str:
    if not METRIC_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a Prometheus metric name")
    return name


Text = Annotated[str, BeforeValidator(_scalar_text)]
Name = Annotated[str, BeforeValidator(_scalar_text), AfterValidator(_one_line)]
LabelName = Annotated[str, AfterValidator(_label_name)]
Labels = dict[LabelName, Text]
Objective = Annotated[Decimal, BeforeValidator(_objective)]
SlothObjective = Annotated[Decimal, BeforeValidator(_sloth_objective)]
Positive = Annotated[Decimal, BeforeValidator(_positive)]
NonNegative = Annotated[Decimal, BeforeValidator(_non_negative)]
DurationField = Annotated[Duration, BeforeValidator(parse_duration)]
DurationOrZero = Annotated[Duration, BeforeValidator(parse_duration_or_zero)]
WindowedQuery = Annotated[str, AfterValidator(_windowed_query)]
Matchers = Annotated[str, AfterValidator(_matchers)]
MetricName = Annotated[str, AfterValidator(_metric_name)]

OBJECTIVE_EXPECTED = "a percentage in (0, 100), e.g. 99.9"
QUERY_EXPECTED = "a PromQL query using the {{.window}} template variable"
LABELS_EXPECTED = "a map of Prometheus label names to text"


def labels_field() -> Any:
    return Field(default_factory=dict, description=LABELS_EXPECTED)


def duration_field(default: Duration | None = None, **kwargs: Any) -> Any:
    return Field(default=default, description=DURATION_EXPECTED, **kwargs)
