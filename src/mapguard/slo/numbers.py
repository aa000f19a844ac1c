"""Exact numbers for rule files: objectives, budgets and burn factors never pass through floats.

A YAML float such as ``99.9`` is read back through its shortest repr (``"99.9"``), so the
objective is the decimal the user wrote; budgets and factors are `Fraction`s; they are written as
plain decimals when the decimal terminates (``0.001``, ``14.4``) and as an exact quotient
otherwise (``(14 / 15)``). That is what keeps ``0.9990000000000001`` out of generated files.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from fractions import Fraction


def to_decimal(value: object) -> Decimal:
    """A YAML scalar (int, float or numeric text) as the decimal its author wrote."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {value!r}")
        text = repr(value)
    elif isinstance(value, int | Decimal):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ValueError(f"expected a number, got {value!r}")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"expected a number, got {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"expected a finite number, got {value!r}")
    return number


def terminates(value: Fraction) -> bool:
    """Does `value` have a finite decimal expansion (denominator of the form 2^a 5^b)?"""
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    return denominator == 1


def decimal_text(value: Fraction | Decimal | int) -> str:
    """Plain decimal text (no exponent, no trailing zeros) of a terminating value."""
    fraction = value if isinstance(value, Fraction) else Fraction(value)
    if not terminates(fraction):
        raise ValueError(f"{fraction} has no finite decimal expansion")
    sign = "-" if fraction < 0 else ""
    fraction = abs(fraction)
    whole, rest = divmod(fraction.numerator, fraction.denominator)
    digits = []
    while rest:
        rest *= 10
        digit, rest = divmod(rest, fraction.denominator)
        digits.append(str(digit))
    return f"{sign}{whole}" + (f".{''.join(digits)}" if digits else "")


def exact_text(value: Fraction | Decimal | int) -> str:
    """PromQL text for `value`, exact: a decimal when it terminates, else ``(n / d)``."""
    fraction = value if isinstance(value, Fraction) else Fraction(value)
    if terminates(fraction):
        return decimal_text(fraction)
    return f"({fraction.numerator} / {fraction.denominator})"


def round_significant(value: Fraction, digits: int) -> Fraction:
    """`value` rounded to `digits` significant decimal digits (for readable test inputs)."""
    if value == 0:
        return value
    exponent = math.floor(math.log10(abs(value)))
    scale = Fraction(10) ** (digits - 1 - exponent)
    return Fraction(round(value * scale)) / scale
