"""Error-free transformations and double-double arithmetic, on floats or NumPy arrays alike.

A double-double is an unevaluated sum ``hi + lo`` of two float64 values with ``|lo| <= ulp(hi)/2``
(about 106 significant bits).  The transformations are exact for finite operands away from
overflow (Knuth's TwoSum, Dekker's FastTwoSum and product); the double-double operations have a
relative error of a few ``2**-106`` (Muller et al., *Handbook of Floating-Point Arithmetic*, 2nd
ed., 2018, ch. 4 and 14).  No fused multiply-add is used, so the results do not depend on the
CPU, and none may be contracted into the Python expressions (CPython never does).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "SPLITTER",
    "dd_add",
    "dd_div",
    "dd_mul",
    "fast_two_sum",
    "split",
    "two_prod",
    "two_sum",
]

SPLITTER = 134217729.0  # 2**27 + 1: Dekker's split of a double into 26 + 27 bits


def two_sum(a: Any, b: Any) -> tuple[Any, Any]:
    """``s + e == a + b`` exactly, ``s = fl(a + b)`` (Knuth; no condition on the magnitudes)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def fast_two_sum(a: Any, b: Any) -> tuple[Any, Any]:
    """``s + e == a + b`` exactly when ``|a| >= |b|`` (Dekker): half the cost of TwoSum."""
    s = a + b
    return s, b - (s - a)


def split(a: Any) -> tuple[Any, Any]:
    """``a = hi + lo`` with 26 and 27 significant bits (Veltkamp), for ``|a| < 2**995``."""
    t = SPLITTER * a
    hi = t - (t - a)
    return hi, a - hi


def two_prod(a: Any, b: Any) -> tuple[Any, Any]:
    """``p + e == a * b`` exactly, ``p = fl(a * b)`` (Dekker's product), for ``|a|, |b| < 2**995``
    and no underflow in ``e``."""
    p = a * b
    ah, al = split(a)
    bh, bl = split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def dd_add(ah: Any, al: Any, bh: Any, bl: Any) -> tuple[Any, Any]:
    """Double-double sum, relative error about 2**-104 even with cancellation of the high parts."""
    s1, s2 = two_sum(ah, bh)
    t1, t2 = two_sum(al, bl)
    s2 = s2 + t1
    s1, s2 = fast_two_sum(s1, s2)
    s2 = s2 + t2
    return fast_two_sum(s1, s2)


def dd_mul(ah: Any, al: Any, bh: Any, bl: Any) -> tuple[Any, Any]:
    """Double-double product, relative error below ``2**-103`` (``al * bl`` is left out)."""
    p, e = two_prod(ah, bh)
    e = e + (ah * bl + al * bh)
    return fast_two_sum(p, e)


def dd_div(ah: Any, al: Any, bh: Any, bl: Any) -> tuple[Any, Any]:
    """Double-double quotient by long division (three partial quotients)."""
    q1 = ah / bh
    rh, rl = dd_add(ah, al, *(-v for v in dd_mul(q1, 0.0 * q1, bh, bl)))
    q2 = rh / bh
    rh, rl = dd_add(rh, rl, *(-v for v in dd_mul(q2, 0.0 * q2, bh, bl)))
    q3 = rh / bh
    q1, q2 = fast_two_sum(q1, q2)
    return dd_add(q1, q2, q3, 0.0 * q3)
