"""Chapter 2a (overflow and underflow): e^x in every format, float64 down to fp8.

:func:`exp_in_formats` evaluates exp in each format next to the correctly rounded value of the
same stored input, so the chapter's table shows where each format overflows to inf (or, in
float8_e4m3fn, which has no inf, to NaN) and underflows to 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import mpmath
import numpy as np
from numpy.typing import DTypeLike

from numdl.floats import FORMATS
from numdl.reference import evaluate

__all__ = ["ExpInFormat", "exp_in_formats"]


@dataclass(frozen=True)
class ExpInFormat:
    """exp(x) in one format: the input as stored, what the format computes, the exact value."""

    dtype: str
    x_stored: float
    computed: float
    correctly_rounded: float
    exact_log10: float  # log10 of the true e^x (of the stored input), for scale

    @property
    def outcome(self) -> str:
        if np.isnan(self.x_stored):
            return "input not representable (nan)"
        if np.isnan(self.computed):
            return "nan (this format has no inf)"
        if np.isinf(self.computed):
            return "overflow to inf"
        if self.computed == 0:
            return "underflow to 0"
        return "finite"


def exp_in_formats(x: float, formats: Iterable[DTypeLike] | None = None) -> list[ExpInFormat]:
    """Evaluate e^x in each format (default: float64 down to fp8), next to the correctly rounded value.

    The input is first rounded to the format (e4m3fn cannot even store 1000:
    it becomes NaN), then exp is computed by NumPy/ml_dtypes in that format and
    compared with the exact e^x of the stored input rounded once.
    """
    rows = []
    for dt in formats or FORMATS:
        dt = np.dtype(dt)
        stored = np.asarray(x, dtype=np.float64).astype(dt)
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            computed = float(np.exp(stored))
        if np.isnan(float(stored)):
            rounded, log10 = float("nan"), float("nan")
        else:
            rounded = float(evaluate(mpmath.exp, stored))
            log10 = float(stored) / float(np.log(10.0))
        rows.append(ExpInFormat(dt.name, float(stored), computed, rounded, log10))
    return rows
