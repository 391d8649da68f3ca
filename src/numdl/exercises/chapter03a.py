"""Exercises of chapter 3a: the fastest fixed learning rate on a quadratic, and one Adam step."""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl.exercises.grading import Case, Exercise, close_to, describe
from numdl.optim import AdamState, adam, quadratic_rates
from numdl.optim.problems import random_orthogonal

__all__ = ["ADAM_STEP", "BEST_LEARNING_RATE", "EXERCISES"]


# -- the best fixed learning rate -------------------------------------------------------------------


def _rotated(eigenvalues, seed: int) -> np.ndarray:
    lam = np.asarray(eigenvalues, dtype=np.float64)
    q = random_orthogonal(lam.size, np.random.default_rng(seed))
    h = (q * lam) @ q.T
    return (h + h.T) / 2


def _lr_cases() -> list[Case]:
    def case(label, h, why="", hostile=True):
        h = np.asarray(h, dtype=np.float64)
        return Case(label, (h,), quadratic_rates(h).best_step, why, hostile=hostile)

    return [
        case("H = diag(1, 10)", np.diag([1.0, 10.0]), "", hostile=False),
        case("a rotated 2-D quadratic, eigenvalues 1 and 100", _rotated([1.0, 100.0], 1),
             "The valley is not aligned with an axis. (In 2-D the diagonal happens to give the "
             "right sum: lambda_min + lambda_max = trace.)", hostile=False),
        case("H = [[1, 0, 0], [0, 5, 4], [0, 4, 5]]", [[1.0, 0.0, 0.0], [0.0, 5.0, 4.0], [0.0, 4.0, 5.0]],
             "The diagonal entries are 1, 5 and 5, but the eigenvalues are 1, 1 and 9: the "
             "diagonal of a matrix that is not diagonal does not give its curvature extremes."),
        case("a rotated 6-D quadratic, eigenvalues 0.5 ... 40", _rotated(np.geomspace(0.5, 40, 6), 2),
             "Only the smallest and the largest eigenvalue matter, in any dimension."),
        case("a rotated 3-D quadratic, condition number 1e6", _rotated([1e-3, 1.0, 1e3], 3),
             "Badly conditioned: the best step is just below the stability limit 2 / lambda_max, "
             "and the rate (kappa - 1)/(kappa + 1) is within 2e-6 of 1."),
        case("H = 1e-8 * diag(1, 4) (very flat)", np.diag([1e-8, 4e-8]),
             "A very flat quadratic wants a huge step (about 4e7): a cap like lr <= 1 would crawl."),
        case("H = 5 I (perfectly conditioned)", 5.0 * np.eye(3),
             "kappa = 1: the best step 1/lambda lands on the minimum in one step."),
    ]


def _check_learning_rate(case: Case, got: Any) -> str | None:
    """Within 1e-8 relative of 2 / (lambda_min + lambda_max); the reason names a common mix-up."""
    if isinstance(got, np.ndarray) and got.size == 1 and got.dtype.kind in "fiu":
        value = float(got.reshape(()))
    elif isinstance(got, float | int | np.floating | np.integer) and not isinstance(got, bool):
        value = float(got)
    else:
        return f"returned {describe(got)}; return one number"
    best = float(case.expected)
    if np.isfinite(value) and abs(value - best) <= 1e-8 * best:
        return None
    rates = quadratic_rates(case.args[0])
    guesses = {
        rates.stability_limit: "that is the stability limit 2/lambda_max, where gradient descent "
                               "stops converging (the steep direction's factor is -1)",
        1 / rates.lambda_max: "1/lambda_max removes the steep direction in one step but leaves the "
                              "flat one crawling at 1 - lambda_min/lambda_max per step",
        1 / rates.lambda_min: "1/lambda_min is beyond the stability limit unless kappa < 2",
    }
    for value_, text in guesses.items():
        if np.isfinite(value) and abs(value - value_) <= 1e-8 * abs(value_):
            return f"returned {value:.7g}; {text}"
    if not np.isfinite(value):
        return f"returned {value}; the best step is a finite positive number"
    return (f"returned {value:.7g}; expected {best:.7g}: the eigenvalues of H are "
            f"{rates.lambda_min:.4g} ... {rates.lambda_max:.4g}")


BEST_LEARNING_RATE = Exercise(
    id="03a_gradient_descent.best_learning_rate",
    title="The fastest fixed learning rate on a quadratic",
    prompt=(
        "Gradient descent $x \\leftarrow x - \\alpha \\nabla f(x)$ on "
        "$f(x) = \\tfrac12 x^\\top H x$ multiplies the error along each eigenvector of $H$ by "
        "$1 - \\alpha\\lambda_i$. Write `best_learning_rate(H)` returning the fixed step "
        "$\\alpha$ (a float) that makes the slowest of these factors as small as possible, for a "
        "symmetric positive definite `H` of any size. `np` is NumPy."
    ),
    function="best_learning_rate",
    start_code=(
        "def best_learning_rate(H):\n"
        "    lam = np.diag(H)  # the curvatures along the axes\n"
        "    return 2.0 / (lam.min() + lam.max())\n"
    ),
    solution=(
        "def best_learning_rate(H):\n"
        "    # max_i |1 - a lambda_i| is smallest where the flat direction's factor\n"
        "    # 1 - a lambda_min equals minus the steep one's, a lambda_max - 1.\n"
        "    lam = np.linalg.eigvalsh(H)  # ascending; symmetric solver, real results\n"
        "    return float(2.0 / (lam[0] + lam[-1]))\n"
    ),
    hints=(
        "Which cases fail? Compare the diagonal of H with its eigenvalues there.",
        "Only lambda_min and lambda_max matter: a larger step speeds up the flat direction until "
        "the steep direction starts overshooting. Balance 1 - a lambda_min = a lambda_max - 1.",
        "np.linalg.eigvalsh(H) gives the eigenvalues of a symmetric matrix in ascending order.",
    ),
    cases=_lr_cases,
    check=_check_learning_rate,
)


# -- one Adam step ----------------------------------------------------------------------------------


def _adam_expected(x, g, m, v, t, lr, b1, b2, eps):
    opt = adam(lr, b1=b1, b2=b2, eps=eps)
    updates, state = opt.update(g, AdamState(count=t - 1, mu=m, nu=v))
    return (x + updates).astype(x.dtype), state.mu, state.nu


def _adam_cases() -> list[Case]:
    rng = np.random.default_rng(3)
    f32, f64 = np.float32, np.float64

    def case(label, x, g, m, v, t, why, hostile=True, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
        x, g, m, v = (np.asarray(a) for a in (x, g, m, v))
        args = (x, g, m, v, t, lr, b1, b2, eps)
        return Case(label, args, _adam_expected(*args), why, hostile=hostile)

    z3 = np.zeros(3)
    steady_m = 0.1 * rng.standard_normal(4)
    steady_v = 0.01 + steady_m**2
    return [
        case("t = 100000, moments warm", rng.standard_normal(4), rng.standard_normal(4),
             steady_m, steady_v, 100_000, "", hostile=False),
        case("t = 500, moments warm", rng.standard_normal(4), rng.standard_normal(4),
             steady_m, steady_v, 500,
             "The first moment's correction 1 - 0.9^500 is 1, but the second's, 1 - 0.999^500 = "
             "0.39, still matters: v needs thousands of steps to forget its zero start."),
        case("t = 1: the first step, m = v = 0", [1.0, -2.0, 0.5], [0.3, -4.0, 1e-3], z3, z3, 1,
             "At t = 1, m = (1 - b1) g and v = (1 - b2) g^2 are 10x and 1000x too small: without "
             "the bias correction m / (1 - b1^t), v / (1 - b2^t) the step is sqrt(1 - b2)/(1 - b1) "
             "= 0.316 times lr instead of lr."),
        case("t = 2 after one step", [0.2, 0.1], [1.0, -1.0], [0.1, -0.1], [1e-3, 1e-3], 2,
             "The bias correction is still large at t = 2 (1 - 0.9^2 = 0.19)."),
        case("a zero gradient at t = 1", [1.0, 2.0, 3.0], z3, z3, z3, 1,
             "m = v = 0: the step is 0 / (0 + eps) = 0. Without eps, or with eps added after a "
             "division, it is 0/0 = nan."),
        case("huge gradients (1e100) at t = 1", [0.0, 1.0], [1e100, -3e100], [0.0, 0.0], [0.0, 0.0], 1,
             "Adam's step does not depend on the gradient's scale: about lr per coordinate. "
             "g^2 = 1e200 still fits float64."),
        case("tiny gradients (1e-12) at t = 1", [0.0, 1.0], [1e-12, -2e-12], [0.0, 0.0], [0.0, 0.0], 1,
             "Here sqrt(v_hat) = 1e-12 is far below eps = 1e-8, so eps sets the step: "
             "lr * g / (sqrt(v_hat) + eps), eps outside the square root (not sqrt(v_hat + eps))."),
        case("float32 parameters, t = 1", np.array([1.0, -1.0], f32), np.array([0.5, 2.0], f32),
             np.zeros(2, f32), np.zeros(2, f32), 1,
             "Keep the parameters' dtype: float32 in, float32 out."),
        case("t = 10000, b2 = 0.999", [0.5], [0.1], [0.1], [0.01], 10_000,
             "1 - 0.999^10000 = 0.99995: close to 1, but not to float64 precision."),
        case("a different lr, b1, b2, eps (t = 3)", np.asarray([1.0, 2.0], f64), [0.5, -0.25],
             [0.05, -0.02], [1e-3, 2e-4], 3, "Use the arguments, not the defaults.",
             lr=0.01, b1=0.8, b2=0.99, eps=1e-6),
    ]


def _check_adam(case: Case, got: Any) -> str | None:
    """Each of (x, m, v) within the dtype's tolerance of numdl.optim.adam's."""
    if not isinstance(got, tuple | list) or len(got) != 3:
        return f"returned {describe(got)}; return a tuple (x, m, v) of three arrays"
    inner = close_to()
    for name, g, e in zip(("x", "m", "v"), got, case.expected):
        reason = inner(Case(case.label, case.args, e), g)
        if reason is not None:
            x0, grad = case.args[0], case.args[1]
            if name == "x" and isinstance(g, np.ndarray) and g.shape == e.shape:
                with np.errstate(all="ignore"):
                    yours = np.asarray(g, np.float64) - x0
                    exact = np.asarray(e, np.float64) - x0
                    big = np.abs(exact) > 0
                    ratio = (yours[big] / exact[big]) if big.any() else np.array([])
                if (ratio.size and np.all(np.isfinite(ratio)) and abs(ratio[0] - 1) > 1e-3
                        and np.allclose(ratio, ratio[0], rtol=1e-3)):
                    return (f"{name}: {reason}; your step is {ratio[0]:.4g} times Adam's (gradient "
                            f"{describe(grad)})")
            return f"{name}: {reason}"
    return None


ADAM_STEP = Exercise(
    id="03a_gradient_descent.adam_step",
    title="One Adam step",
    prompt=(
        "Write `adam_step(x, g, m, v, t, lr, b1, b2, eps)` performing step number `t` of Adam "
        "(`t = 1` for the first step) on parameters `x` with gradient `g`, where `m` and `v` are "
        "the moment estimates after step `t - 1` (zeros before the first step). Return the tuple "
        "`(x_new, m_new, v_new)`, in `x`'s dtype:\n\n"
        "$$m_t = \\beta_1 m_{t-1} + (1 - \\beta_1) g, \\quad v_t = \\beta_2 v_{t-1} + "
        "(1 - \\beta_2) g^2,$$\n\n"
        "$$\\hat m = \\frac{m_t}{1 - \\beta_1^t}, \\quad \\hat v = \\frac{v_t}{1 - \\beta_2^t}, "
        "\\quad x_{\\text{new}} = x - \\text{lr}\\,\\frac{\\hat m}{\\sqrt{\\hat v} + \\varepsilon}.$$\n\n"
        "It is graded against `numdl.optim.adam` on first steps, zero, huge and tiny gradients."
    ),
    function="adam_step",
    start_code=(
        "def adam_step(x, g, m, v, t, lr, b1, b2, eps):\n"
        "    m = b1 * m + (1 - b1) * g\n"
        "    v = b2 * v + (1 - b2) * g * g\n"
        "    x = x - lr * m / (np.sqrt(v) + eps)\n"
        "    return x, m, v\n"
    ),
    solution=(
        "def adam_step(x, g, m, v, t, lr, b1, b2, eps):\n"
        "    m = b1 * m + (1 - b1) * g\n"
        "    v = b2 * v + (1 - b2) * g * g\n"
        "    # Bias correction: m and v start at 0, so early on they underestimate\n"
        "    # the moments by the factors 1 - b1**t and 1 - b2**t.\n"
        "    m_hat = m / (1 - b1**t)\n"
        "    v_hat = v / (1 - b2**t)\n"
        "    # eps outside the square root: it only matters when sqrt(v_hat) < eps,\n"
        "    # and turns 0 / 0 into 0 for a coordinate whose gradients were all 0.\n"
        "    step = lr * m_hat / (np.sqrt(v_hat) + eps)\n"
        "    return (x - step).astype(x.dtype), m, v\n"
    ),
    hints=(
        "Which cases fail? Look at t: are they first steps? Compare the size of your step with lr.",
        "At t = 1, m = (1 - b1) g and v = (1 - b2) g^2. Divide them by 1 - b1**t and 1 - b2**t "
        "before forming the step.",
        "The step is lr * m_hat / (np.sqrt(v_hat) + eps), with eps added after the square root. "
        "Return m and v themselves (not the corrected ones): they are the state for the next step.",
    ),
    cases=_adam_cases,
    check=_check_adam,
)

EXERCISES = (BEST_LEARNING_RATE, ADAM_STEP)
