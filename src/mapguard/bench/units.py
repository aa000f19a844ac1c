"""Showing benchmark values: one scale per row, SI prefixes for most units and binary ones for
bytes, about four significant digits — so 46.55n, 1.701µ and 2.001Gi read as benchstat prints
them."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

_SI = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"),
       (1e-9, "n"))
_BINARY = tuple((float(2**exponent), prefix)
                for exponent, prefix in ((40, "Ti"), (30, "Gi"), (20, "Mi"), (10, "Ki"), (0, "")))
_BYTE_WORDS = {"B", "MB", "bytes"}


def is_binary(unit: str) -> bool:
    """Units counting bytes (in the numerator) get binary prefixes."""
    denominator = False
    for piece in re.split(r"([*/\-\s])", unit):
        if piece == "*":
            denominator = False
        elif piece == "/":
            denominator = True
        elif piece in _BYTE_WORDS and not denominator:
            return True
    return False


@dataclass(frozen=True, slots=True)
class Scaler:
    digits: int  # after the decimal point
    factor: float
    prefix: str

    def format(self, value: float) -> str:
        return f"{value / self.factor:.{self.digits}f}{self.prefix}"


def common_scale(values: Iterable[float], unit: str) -> Scaler:
    """The prefix and precision that show the smallest non-zero value with four significant
    digits (three for values under one of the smallest prefix get more decimals)."""
    smallest = min((abs(value) for value in values if value != 0 and math.isfinite(value)),
                   default=0.0)
    if smallest == 0:
        return Scaler(3, 1.0, "")
    binary = is_binary(unit)
    factors = _BINARY if binary else _SI
    for factor, prefix in factors:
        # The thresholds are 99.995, 9.9995 and .99995 of the prefix: what rounds up to the
        # next digit count is shown with one digit fewer after the point.
        if smallest >= 99.995 * factor:
            return Scaler(1, factor, prefix)
        if smallest >= 9.9995 * factor:
            return Scaler(2, factor, prefix)
        if smallest >= 0.99995 * factor:
            return Scaler(3, factor, prefix)
    factor, prefix = factors[-1]
    scaled = smallest / factor
    for extra in range(8):
        if scaled >= 9.9995 * 10 ** -(extra + 1) or extra == 7:
            return Scaler(3 + extra, factor, prefix)
    raise AssertionError("not reached")


def scaled(value: float, unit: str) -> str:
    return common_scale([value], unit).format(value)
