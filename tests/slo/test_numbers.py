"""Exact numbers and durations: what keeps float noise out of rule files."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from mapguard.slo.durations import Duration
from mapguard.slo.model import Tier, burn_factor, workbook_windows
from mapguard.slo.numbers import decimal_text, exact_text, round_significant, to_decimal


@pytest.mark.parametrize(
    ("value", "text"),
    [(99.9, "99.9"), (99.95, "99.95"), (0.1, "0.1"), (100, "100"), ("99.999", "99.999")],
)
def test_yaml_numbers_keep_the_decimal_their_author_wrote(value: object, text: str) -> None:
    assert to_decimal(value) == Decimal(text)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True, "ninety", None])
def test_non_numbers_are_rejected(value: object) -> None:
    with pytest.raises(ValueError):
        to_decimal(value)


def test_budgets_are_written_exactly() -> None:
    # In floats, 1 - 0.999 is 0.0010000000000000009 and 14.4 * 0.001 is 0.014400000000000001.
    budget = 1 - Fraction(to_decimal(99.9)) / 100
    assert exact_text(budget) == "0.001"
    assert exact_text(Fraction(144, 10) * budget) == "0.0144"
    assert decimal_text(Fraction(-1, 8)) == "-0.125"


def test_non_terminating_values_are_written_as_a_quotient() -> None:
    assert exact_text(Fraction(14, 15)) == "(14 / 15)"
    with pytest.raises(ValueError):
        decimal_text(Fraction(1, 3))


def test_round_significant() -> None:
    assert round_significant(Fraction(3456, 10000), 2) == Fraction(35, 100)
    assert round_significant(Fraction(0), 3) == 0


@pytest.mark.parametrize(
    ("text", "seconds", "rendered"),
    [("5m", 300, "5m"), ("1h30m", 5400, "90m"), ("4w", 28 * 86400, "28d"), ("90d", 90 * 86400,
                                                                           "90d"),
     ("36h", 36 * 3600, "36h")],
)
def test_durations(text: str, seconds: int, rendered: str) -> None:
    duration = Duration.parse(text)
    assert duration.seconds == seconds
    assert str(duration) == rendered


@pytest.mark.parametrize("text", ["1M", "1Q", "1Y", "5", "m5", "0m", "-5m", "5 m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        Duration.parse(text)


def test_workbook_factors_for_30_days() -> None:
    # The SRE workbook's table for a 30-day SLO: 14.4 and 6 page, 3 and 1 ticket.
    windows = workbook_windows(Duration.parse("30d"))
    assert [(w.tier, w.pair, w.factor) for w in windows] == [
        (Tier.PAGE, "1h/5m", Fraction(144, 10)),
        (Tier.PAGE, "6h/30m", Fraction(6)),
        (Tier.TICKET, "1d/2h", Fraction(3)),
        (Tier.TICKET, "3d/6h", Fraction(1)),
    ]


@pytest.mark.parametrize(
    ("period", "factors"),
    [
        ("28d", ["13.44", "5.6", "2.8", "(14 / 15)"]),
        ("7d", ["3.36", "1.4", "0.7", "(7 / 30)"]),
        ("90d", ["43.2", "18", "9", "3"]),
    ],
)
def test_factors_for_other_periods_spend_the_same_budget_share(
    period: str, factors: list[str]
) -> None:
    windows = workbook_windows(Duration.parse(period))
    assert [exact_text(w.factor) for w in windows] == factors
    for window in windows:
        # factor × long window = share × period: the same share of budget, whatever the period
        assert window.budget_share is not None
        assert window.factor * window.long.seconds == (
            window.budget_share * Duration.parse(period).seconds
        )
    assert burn_factor(Fraction(1, 50), Duration.parse("30d"), Duration.parse("1h")) == Fraction(
        72, 5
    )
