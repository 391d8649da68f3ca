"""Optimization for deep learning, from gradient descent to quasi-Newton, with its test problems.

Submodules
----------
problems
    Test functions (quadratic with a chosen condition number, Rosenbrock, Beale, Himmelblau,
    saddles, ...) with analytic gradients and Hessians and their known critical points;
    :data:`~numdl.optim.problems.PROBLEMS` maps names to factories.
derivatives
    Gradients, Jacobians and Hessians of Python functions by finite differences and complex step;
    the truncation/rounding error curve.
first_order
    SGD, momentum, Nesterov, AdaGrad, RMSprop, Adam, AdamW as ``init``/``update`` pairs of pure
    functions (optax convention: ``update`` returns the updates to *add*).
schedules
    Learning-rate schedules (functions of the step count).
second_order
    Newton directions with damping, the BFGS update, the L-BFGS two-loop recursion and the strong
    Wolfe line search.
driver
    :func:`minimize`, the driver for every method, returning a frozen :class:`OptimizeResult` with a
    :class:`Status` from one table.
critical
    :func:`classify_critical_point` and :func:`find_critical_points`.
rates
    Gradient descent on a quadratic in closed form: :func:`quadratic_rates`,
    :func:`optimal_gradient_step`, :func:`quadratic_gd_iterates`.
constrained
    :func:`minimize_constrained` (augmented Lagrangian, projected gradient, quadratic penalty),
    :func:`kkt_residuals`, exact projections onto a box, a ball and the simplex, and weight decay
    as a norm constraint (:func:`ridge_radius`, :func:`ridge_penalty_for_radius`).
"""

from __future__ import annotations

from numdl.optim import constrained, derivatives, problems, schedules
from numdl.optim.constrained import (
    CONSTRAINED_METHODS,
    Affine,
    Ball,
    Box,
    ConstrainedResult,
    ConvexSet,
    Equality,
    Inequality,
    KKTResiduals,
    Simplex,
    estimate_multipliers,
    kkt_residuals,
    minimize_constrained,
    project_ball,
    project_box,
    project_simplex,
    ridge_penalty_for_radius,
    ridge_radius,
    ridge_solution,
)
from numdl.optim.critical import Classification, classify_critical_point, find_critical_points
from numdl.optim.driver import (
    DEFAULT_TOL,
    DIVERGENCE_FACTOR,
    MESSAGES,
    METHODS,
    IterationInfo,
    OptimizeResult,
    Status,
    minimize,
)
from numdl.optim.first_order import (
    OPTIMIZERS,
    AdagradState,
    AdamState,
    GradientTransformation,
    MomentumState,
    RmspropState,
    SgdState,
    adagrad,
    adam,
    adamw,
    apply_updates,
    momentum,
    nesterov,
    rmsprop,
    sgd,
)
from numdl.optim.problems import PROBLEMS, CriticalPoint, Problem
from numdl.optim.rates import (
    QuadraticRates,
    optimal_gradient_step,
    quadratic_gd_iterates,
    quadratic_rates,
)
from numdl.optim.schedules import (
    Schedule,
    constant_schedule,
    cosine_schedule,
    exponential_schedule,
    inverse_time_schedule,
    step_schedule,
    warmup_cosine_schedule,
)
from numdl.optim.second_order import (
    LineSearchResult,
    NewtonDirection,
    bfgs,
    bfgs_update,
    lbfgs,
    lbfgs_direction,
    newton,
    newton_direction,
    wolfe_line_search,
)

__all__ = [
    "CONSTRAINED_METHODS",
    "DEFAULT_TOL",
    "DIVERGENCE_FACTOR",
    "MESSAGES",
    "METHODS",
    "OPTIMIZERS",
    "PROBLEMS",
    "AdagradState",
    "AdamState",
    "Affine",
    "Ball",
    "Box",
    "Classification",
    "ConstrainedResult",
    "ConvexSet",
    "CriticalPoint",
    "Equality",
    "GradientTransformation",
    "Inequality",
    "IterationInfo",
    "KKTResiduals",
    "LineSearchResult",
    "MomentumState",
    "NewtonDirection",
    "OptimizeResult",
    "Problem",
    "QuadraticRates",
    "RmspropState",
    "Schedule",
    "SgdState",
    "Simplex",
    "Status",
    "adagrad",
    "adam",
    "adamw",
    "apply_updates",
    "bfgs",
    "bfgs_update",
    "classify_critical_point",
    "constant_schedule",
    "constrained",
    "cosine_schedule",
    "derivatives",
    "estimate_multipliers",
    "exponential_schedule",
    "find_critical_points",
    "inverse_time_schedule",
    "kkt_residuals",
    "lbfgs",
    "lbfgs_direction",
    "minimize",
    "minimize_constrained",
    "momentum",
    "nesterov",
    "newton",
    "newton_direction",
    "optimal_gradient_step",
    "problems",
    "project_ball",
    "project_box",
    "project_simplex",
    "quadratic_gd_iterates",
    "quadratic_rates",
    "ridge_penalty_for_radius",
    "ridge_radius",
    "ridge_solution",
    "rmsprop",
    "schedules",
    "sgd",
    "step_schedule",
    "warmup_cosine_schedule",
    "wolfe_line_search",
]
