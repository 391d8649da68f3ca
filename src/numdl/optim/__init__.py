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
"""

from __future__ import annotations

from numdl.optim import derivatives, problems, schedules
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
    "DEFAULT_TOL",
    "DIVERGENCE_FACTOR",
    "MESSAGES",
    "METHODS",
    "OPTIMIZERS",
    "PROBLEMS",
    "AdagradState",
    "AdamState",
    "Classification",
    "CriticalPoint",
    "GradientTransformation",
    "IterationInfo",
    "LineSearchResult",
    "MomentumState",
    "NewtonDirection",
    "OptimizeResult",
    "Problem",
    "QuadraticRates",
    "RmspropState",
    "Schedule",
    "SgdState",
    "Status",
    "adagrad",
    "adam",
    "adamw",
    "apply_updates",
    "bfgs",
    "bfgs_update",
    "classify_critical_point",
    "constant_schedule",
    "cosine_schedule",
    "derivatives",
    "exponential_schedule",
    "find_critical_points",
    "inverse_time_schedule",
    "lbfgs",
    "lbfgs_direction",
    "minimize",
    "momentum",
    "nesterov",
    "newton",
    "newton_direction",
    "optimal_gradient_step",
    "problems",
    "quadratic_gd_iterates",
    "quadratic_rates",
    "rmsprop",
    "schedules",
    "sgd",
    "step_schedule",
    "warmup_cosine_schedule",
    "wolfe_line_search",
]
