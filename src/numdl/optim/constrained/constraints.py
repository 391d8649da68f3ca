"""Constraints as objects: ``g(x) <= 0`` (:class:`Inequality`) and ``h(x) = 0`` (:class:`Equality`).

A constraint is a scalar function with its gradient (central differences when none is given);
``Inequality.linear(a, b)`` is ``a . x <= b`` with its exact gradient.  Lists of them are split by
kind with :func:`partition_constraints`, their gradients stacked by :func:`constraint_jacobian`,
and :func:`least_squares_multipliers` finds the multipliers that best satisfy stationarity at a
point -- the numbers every other module of :mod:`numdl.optim.constrained` works with.

>>> import numpy as np
>>> c = Inequality.linear([1.0, 1.0], 1.0, name="x1 + x2 <= 1")
>>> c.value(np.array([2.0, 0.5])), c.gradient(np.array([2.0, 0.5])).tolist()
(1.5, [1.0, 1.0])
>>> # min x1 + x2 with x1 + x2 = 1 active: grad f + nu grad h = 0 gives nu = -1
>>> least_squares_multipliers(np.ones(2), [Equality.linear([1.0, 1.0], 1.0)], np.zeros(2), 1e-9)
(array([], dtype=float64), array([-1.]))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from numdl.optim import derivatives
from numdl.optim.validation import readonly_float64, real_number, vector

__all__ = [
    "Constraint",
    "Equality",
    "Inequality",
    "constraint_jacobian",
    "least_squares_multipliers",
    "partition_constraints",
]


class Constraint:
    """What :class:`Inequality` and :class:`Equality` share: a scalar function of x and its
    gradient (a base class: construct one of the two)."""

    fun: Callable[[np.ndarray], Any]
    grad: Callable[[np.ndarray], Any] | None
    name: str
    kind = "constraint"

    def __post_init__(self) -> None:
        if not callable(self.fun):
            raise TypeError(f"fun must be callable, got {type(self.fun).__name__}")
        if self.grad is not None and not callable(self.grad):
            raise TypeError(f"grad must be callable or None, got {type(self.grad).__name__}")
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a string, got {type(self.name).__name__}")

    @classmethod
    def linear(cls, a: ArrayLike, b: float, name: str = "") -> Constraint:
        """The linear constraint ``a . x - b <= 0`` (:class:`Inequality`) or ``= 0``
        (:class:`Equality`), with its exact gradient ``a``."""
        aa = readonly_float64(vector(a, "a"))
        bb = real_number(b, "b")
        return cls(lambda x: float(aa @ x) - bb, lambda x: aa, name)

    def value(self, x: np.ndarray) -> float:
        """The constraint function at `x` (a float)."""
        v = np.asarray(self.fun(x))
        if v.size != 1 or v.dtype.kind not in "biuf":
            raise ValueError(f"the {self.kind} constraint {self.name or self.fun!r} must return a "
                             f"real scalar, got {v.dtype} of shape {v.shape}")
        return float(v.reshape(()))

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """The gradient at `x`: ``grad(x)``, or central differences when `grad` is None."""
        if self.grad is None:
            if not np.all(np.isfinite(x)):
                return np.full(x.shape, np.nan)
            return derivatives.gradient(self.value, x, method="central")
        g = np.asarray(self.grad(x), dtype=np.float64)
        if g.size != x.size:
            raise ValueError(f"the gradient of the {self.kind} constraint {self.name or ''} must "
                             f"have {x.size} entries, got shape {g.shape}")
        return g.reshape(x.shape)


@dataclass(frozen=True, eq=False)
class Inequality(Constraint):
    """An inequality constraint ``fun(x) <= 0``.

    Attributes
    ----------
    fun : callable
        ``fun(x) -> float`` for ``x`` of shape ``(n,)``.
    grad : callable or None
        ``grad(x) -> array (n,)``; default: central differences
        (:func:`numdl.optim.derivatives.gradient`).
    name : str
        A label for tables and messages (default: ``g1, g2, ...`` by position).
    """

    fun: Callable[[np.ndarray], Any]
    grad: Callable[[np.ndarray], Any] | None = None
    name: str = ""
    kind = "inequality"


@dataclass(frozen=True, eq=False)
class Equality(Constraint):
    """An equality constraint ``fun(x) = 0``; attributes as for :class:`Inequality`."""

    fun: Callable[[np.ndarray], Any]
    grad: Callable[[np.ndarray], Any] | None = None
    name: str = ""
    kind = "equality"


def partition_constraints(
        constraints: Constraint | Sequence[Constraint] | None,
) -> tuple[tuple[Inequality, ...], tuple[Equality, ...]]:
    """``(inequalities, equalities)``, each in the order given.

    Parameters
    ----------
    constraints : Inequality, Equality, a sequence of them, or None
        None is no constraint.

    Returns
    -------
    tuple of (tuple of Inequality, tuple of Equality)

    Raises
    ------
    TypeError
        If `constraints` is not a sequence of constraint objects (a set is split by
        :func:`~numdl.optim.constrained.sets.split_constraints`).
    """
    if constraints is None:
        return (), ()
    if isinstance(constraints, Inequality | Equality):
        constraints = (constraints,)
    if callable(constraints) or not isinstance(constraints, Sequence | tuple | list):
        raise TypeError("constraints must be a sequence of Inequality and Equality objects or a "
                        f"set (Box, Ball, Simplex, Affine), got {type(constraints).__name__}")
    ineqs, eqs = [], []
    for i, c in enumerate(constraints):
        if isinstance(c, Inequality):
            ineqs.append(c)
        elif isinstance(c, Equality):
            eqs.append(c)
        else:
            raise TypeError(f"constraints[{i}] must be an Inequality or an Equality, got "
                            f"{type(c).__name__}")
    return tuple(ineqs), tuple(eqs)


def constraint_jacobian(cs: Sequence[Constraint], x: np.ndarray) -> np.ndarray:
    """The gradients of `cs` at `x` as the rows of a ``(len(cs), n)`` float64 matrix (``(0, n)``
    for no constraint)."""
    if not cs:
        return np.zeros((0, x.size))
    return np.array([c.gradient(x) for c in cs], dtype=np.float64).reshape(len(cs), x.size)


def least_squares_multipliers(
        gf: np.ndarray, constraints: Constraint | Sequence[Constraint] | None, x: np.ndarray,
        active_tol: float) -> tuple[np.ndarray, np.ndarray]:
    """The multipliers that best satisfy stationarity at `x`, by least squares.

    Solves ``min ||gf + sum_{i active} lam_i grad g_i(x) + sum_j nu_j grad h_j(x)||_2`` over the
    multipliers of the active inequalities (``|g_i(x)| <= active_tol``) and of every equality;
    the inactive inequalities get ``lam_i = 0`` (complementary slackness).  The minimum-norm
    solution when the active gradients are linearly dependent.  This is the general case of
    :func:`~numdl.optim.constrained.estimate_multipliers`, which validates its arguments and
    uses a set's closed form when there is one.

    Parameters
    ----------
    gf : numpy.ndarray, shape (n,)
        The objective's gradient at `x`.
    constraints : Inequality, Equality, a sequence of them, or None
        `lam` follows the inequalities and `nu` the equalities, in the order given.
    x : numpy.ndarray, shape (n,)
        The point (float64).
    active_tol : float
        The activity tolerance.

    Returns
    -------
    (lam, nu) : tuple of numpy.ndarray
        Shapes ``(m,)`` and ``(p,)``.

    Raises
    ------
    TypeError
        If `constraints` is not made of constraint objects.
    """
    ineqs, eqs = partition_constraints(constraints)
    g = np.array([c.value(x) for c in ineqs], dtype=np.float64)
    active = np.flatnonzero(np.abs(g) <= active_tol)
    cols = [ineqs[i].gradient(x) for i in active] + [c.gradient(x) for c in eqs]
    lam, nu = np.zeros(len(ineqs)), np.zeros(len(eqs))
    if not cols:
        return lam, nu
    A = np.array(cols, dtype=np.float64).reshape(len(cols), x.size).T  # (n, |active| + p)
    sol = np.linalg.lstsq(A, -gf, rcond=None)[0]
    lam[active] = sol[:active.size]
    nu[:] = sol[active.size:]
    return lam, nu
