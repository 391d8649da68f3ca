"""Constrained optimization: the KKT conditions as residuals, three methods, exact projections, and
weight decay as a norm constraint.

The problem is

    min f(x)  subject to  g_i(x) <= 0 (i = 1..m)  and  h_j(x) = 0 (j = 1..p),

with the generalized Lagrangian ``L(x, lam, nu) = f(x) + sum_i lam_i g_i(x) + sum_j nu_j h_j(x)``.
A point ``x`` with multipliers ``(lam, nu)`` satisfies the Karush-Kuhn-Tucker conditions when

1. stationarity: ``grad f(x) + sum_i lam_i grad g_i(x) + sum_j nu_j grad h_j(x) = 0``;
2. primal feasibility: ``g_i(x) <= 0`` and ``h_j(x) = 0``;
3. dual feasibility: ``lam_i >= 0``;
4. complementary slackness: ``lam_i g_i(x) = 0`` (an inactive constraint, ``g_i < 0``, has
   ``lam_i = 0``; a positive multiplier needs an active constraint, ``g_i = 0``).

:func:`kkt_residuals` measures each condition as one non-negative number, 0 when it holds, so a
point is judged by ``max(residuals) <= tol``:

>>> import numpy as np
>>> from numdl.optim.constrained import Inequality, kkt_residuals
>>> # min (x - 2)^2 subject to x <= 1: the solution is x = 1 with lam = 2
>>> c = Inequality(lambda x: x[0] - 1.0, lambda x: np.array([1.0]))
>>> r = kkt_residuals(lambda x: 2 * (x - 2), [c], [1.0], lam=[2.0])
>>> r.violated(1e-9), r.active.tolist()
((), [True])
>>> kkt_residuals(lambda x: 2 * (x - 2), [c], [1.0], lam=[-2.0]).violated(1e-9)
('stationarity', 'dual_feasibility')

Constraints are objects, :class:`Inequality` (``g(x) <= 0``) and :class:`Equality`
(``h(x) = 0``); the sets :class:`Box`, :class:`Ball`, :class:`Simplex` and :class:`Affine`
have exact projections (:func:`project_box`, :func:`project_ball`, :func:`project_simplex`) and
describe themselves as constraints too.  :func:`minimize_constrained` has three methods,
``"augmented_lagrangian"`` (the default), ``"penalty"`` and ``"projected_gradient"``, and returns
a :class:`ConstrainedResult` (an :class:`~numdl.optim.OptimizeResult` with the multipliers, the
final :class:`KKTResiduals` and the residuals along the trajectory) whose status comes from
:data:`numdl.optim.MESSAGES`: converged when every KKT residual is ``<= tol``; ``INFEASIBLE`` for
an empty set or constraints the method cannot satisfy; ``DIVERGED`` for non-finite values or an
unbounded objective.  Nothing raises except bad arguments.

Submodules
----------
Every public name of each is re-exported here, so ``numdl.optim.constrained.X`` works for all.

constraints
    :class:`Inequality`, :class:`Equality` (and their base :class:`Constraint`); splitting a list
    by kind, stacking gradients, least-squares multipliers.
sets
    Exact projections :func:`project_box`, :func:`project_ball`, :func:`project_simplex`; the
    convex sets :class:`Box`, :class:`Ball`, :class:`Simplex`, :class:`Affine`;
    :func:`split_constraints`.
kkt
    :class:`KKTResiduals`, :func:`kkt_residuals`, :func:`kkt_residuals_from_values`,
    :func:`estimate_multipliers`.
solvers
    :func:`minimize_constrained` (augmented Lagrangian, quadratic penalty, projected gradient),
    :func:`penalty_outer_loop`, :class:`ConstrainedResult`.
problems
    Test problems with known solutions: :func:`ball_quadratic`, :func:`linear_program`,
    :func:`equality_quadratic`, :func:`simplex_quadratic`, :func:`disk_and_halfplane`.
ridge
    Weight decay as a norm constraint: :func:`ridge_solution`, :func:`ridge_radius`,
    :func:`ridge_penalty_for_radius`, :func:`ridge_ball`, :func:`ridge_as_constrained`.

The layers: ``constraints`` < ``sets`` < ``kkt`` < ``solvers`` (which uses
:func:`numdl.optim.minimize` and :class:`numdl.optim.trajectory.Trajectory`) < ``ridge``, with
``problems`` beside ``solvers``.

References
----------
.. [1] J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006, ch. 12
       (KKT), §17.1 (quadratic penalty), §17.3-17.4 (augmented Lagrangian), §4.3 (the secular
       equation of :func:`ridge_penalty_for_radius`).
.. [2] R. T. Rockafellar, "The multiplier method of Hestenes and Powell applied to convex
       programming", *J. Optim. Theory Appl.* 12(6), 1973.
.. [3] E. G. Birgin and J. M. Martinez, *Practical Augmented Lagrangian Methods for Constrained
       Optimization*, SIAM, 2014.
.. [4] E. G. Birgin, J. M. Martinez and M. Raydan, "Nonmonotone spectral projected gradient
       methods on convex sets", *SIAM J. Optim.* 10(4), 2000.
.. [5] J. Duchi, S. Shalev-Shwartz, Y. Singer and T. Chandra, "Efficient projections onto the
       l1-ball for learning in high dimensions", ICML 2008 (the simplex projection).
.. [6] I. Loshchilov and F. Hutter, "Decoupled weight decay regularization", ICLR 2019.
"""

from __future__ import annotations

from numdl.optim.constrained.constraints import (
    Constraint,
    Equality,
    Inequality,
    constraint_jacobian,
    least_squares_multipliers,
    partition_constraints,
)
from numdl.optim.constrained.kkt import (
    CONDITIONS,
    KKTResiduals,
    estimate_multipliers,
    kkt_residuals,
    kkt_residuals_from_values,
)
from numdl.optim.constrained.problems import (
    ConstrainedProblem,
    ball_quadratic,
    disk_and_halfplane,
    equality_quadratic,
    linear_program,
    simplex_quadratic,
)
from numdl.optim.constrained.ridge import (
    WeightDecayPair,
    ridge_as_constrained,
    ridge_ball,
    ridge_penalty_for_radius,
    ridge_radius,
    ridge_solution,
)
from numdl.optim.constrained.sets import (
    Affine,
    Ball,
    Box,
    ConvexSet,
    Simplex,
    project_ball,
    project_box,
    project_simplex,
    scaled_norm,
    split_constraints,
)
from numdl.optim.constrained.solvers import (
    CONSTRAINED_METHODS,
    DEFAULT_MAX_ITER,
    ConstrainedResult,
    minimize_constrained,
    penalty_outer_loop,
)

__all__ = [
    "CONDITIONS",
    "CONSTRAINED_METHODS",
    "DEFAULT_MAX_ITER",
    "Affine",
    "Ball",
    "Box",
    "ConstrainedProblem",
    "ConstrainedResult",
    "Constraint",
    "ConvexSet",
    "Equality",
    "Inequality",
    "KKTResiduals",
    "Simplex",
    "WeightDecayPair",
    "ball_quadratic",
    "constraint_jacobian",
    "disk_and_halfplane",
    "equality_quadratic",
    "estimate_multipliers",
    "kkt_residuals",
    "kkt_residuals_from_values",
    "least_squares_multipliers",
    "linear_program",
    "minimize_constrained",
    "partition_constraints",
    "penalty_outer_loop",
    "project_ball",
    "project_box",
    "project_simplex",
    "ridge_as_constrained",
    "ridge_ball",
    "ridge_penalty_for_radius",
    "ridge_radius",
    "ridge_solution",
    "scaled_norm",
    "simplex_quadratic",
    "split_constraints",
]

