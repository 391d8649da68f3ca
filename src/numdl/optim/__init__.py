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
transforms
    Gradient transformations that compose into optimizers as in optax: :func:`chain`,
    :func:`clip_by_global_norm`, :func:`clip`, :func:`add_decayed_weights`, :func:`scale`,
    :func:`scale_by_learning_rate`, :func:`scale_by_schedule`, :func:`trace`,
    :func:`scale_by_adam`, :func:`scale_by_rms`, each an ``init``/``update`` pair
    (:class:`GradientTransformation`) with a named state record; and gradient clipping on lists
    of gradients (:func:`~numdl.optim.transforms.clip_grad_norm`, PyTorch's names).  Parameters
    are one array, as everywhere in this package.
first_order
    SGD, momentum, Nesterov, AdaGrad, RMSprop, Adam, AdamW as ``init``/``update`` pairs of pure
    functions (optax convention: ``update`` returns the updates to *add*); sgd, momentum,
    nesterov, adam and adamw are chains of ``transforms`` (:func:`adam_chain`), bit for bit the
    same as written out.
schedules
    Learning-rate schedules (functions of the step count).
second_order
    Newton directions with damping, the BFGS update, the L-BFGS two-loop recursion and the strong
    Wolfe line search.
driver
    :func:`minimize`, the driver for every method (a name, or any
    :class:`GradientTransformation`), returning a frozen :class:`OptimizeResult` with a
    :class:`Status` from one table; the shorthands :func:`newton`, :func:`bfgs`, :func:`lbfgs`.
trajectory
    :class:`~numdl.optim.trajectory.Trajectory`, the bounded record of iterates that
    :func:`minimize` and :func:`minimize_constrained` share.
critical
    :func:`classify_critical_point` and :func:`find_critical_points`.
rates
    Gradient descent on a quadratic in closed form: :func:`quadratic_rates`,
    :func:`optimal_gradient_step`, :func:`quadratic_gd_iterates`.
constrained
    A package: :func:`minimize_constrained` (augmented Lagrangian, projected gradient, quadratic
    penalty), :func:`kkt_residuals`, exact projections onto a box, a ball and the simplex, and
    weight decay as a norm constraint (:func:`ridge_radius`, :func:`ridge_penalty_for_radius`),
    in the submodules ``constraints``, ``sets``, ``kkt``, ``solvers``, ``problems``, ``ridge``.
validation
    The argument checks the modules share (each error names its argument).

Layers, lowest first (each module imports only from those before it; checked by
``tests/optim/test_optim_layers.py``): ``validation``, ``schedules``, ``problems``,
``derivatives``, ``rates``, ``second_order``, ``trajectory`` (no imports within the package);
``critical``; ``transforms``; ``first_order``; ``driver``; ``constrained``.  ``import numdl.optim``
loads neither mpmath (only :func:`~numdl.optim.derivatives.step_error_curve`'s
``exact="mpmath"`` does) nor plotting or notebook libraries.

>>> import numpy as np
>>> from numdl.optim import chain, clip_by_global_norm, minimize, scale_by_adam
>>> from numdl.optim import scale_by_learning_rate
>>> from numdl.optim.problems import rosenbrock
>>> opt = chain(clip_by_global_norm(10.0), scale_by_adam(), scale_by_learning_rate(0.02))
>>> r = minimize(rosenbrock(), [-1.0, 1.0], method=opt, max_iter=5000, tol=1e-4)
>>> r.status.value, bool(np.allclose(r.x, [1.0, 1.0], atol=1e-3))
('converged', True)
"""

from __future__ import annotations

from numdl.optim import constrained, derivatives, problems, schedules, transforms
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
    bfgs,
    lbfgs,
    minimize,
    newton,
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
    adam_chain,
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
    bfgs_update,
    lbfgs_direction,
    newton_direction,
    wolfe_line_search,
)
from numdl.optim.transforms import (
    ClipByGlobalNormState,
    EmptyState,
    ScaleByAdamState,
    ScaleByRmsState,
    ScaleByScheduleState,
    TraceState,
    add_decayed_weights,
    chain,
    clip,
    clip_by_global_norm,
    scale,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_rms,
    scale_by_schedule,
    trace,
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
    "ClipByGlobalNormState",
    "ConstrainedResult",
    "ConvexSet",
    "CriticalPoint",
    "EmptyState",
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
    "ScaleByAdamState",
    "ScaleByRmsState",
    "ScaleByScheduleState",
    "Schedule",
    "SgdState",
    "Simplex",
    "Status",
    "TraceState",
    "adagrad",
    "adam",
    "adam_chain",
    "adamw",
    "add_decayed_weights",
    "apply_updates",
    "bfgs",
    "bfgs_update",
    "chain",
    "classify_critical_point",
    "clip",
    "clip_by_global_norm",
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
    "scale",
    "scale_by_adam",
    "scale_by_learning_rate",
    "scale_by_rms",
    "scale_by_schedule",
    "schedules",
    "sgd",
    "step_schedule",
    "trace",
    "transforms",
    "warmup_cosine_schedule",
    "wolfe_line_search",
]
