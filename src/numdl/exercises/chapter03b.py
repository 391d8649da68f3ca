"""Exercises of chapter 3b: classify a critical point from its Hessian; choose a difference step."""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl.exercises.grading import Case, Exercise, describe
from numdl.optim import classify_critical_point
from numdl.optim.derivatives import default_step
from numdl.optim.problems import monkey_saddle, random_orthogonal

__all__ = ["CLASSIFY", "EXERCISES", "FD_STEP", "KINDS"]

KINDS = ("minimum", "maximum", "saddle", "degenerate")


# -- classify a critical point ----------------------------------------------------------------------


def _rotate(eigenvalues, seed: int, dtype=np.float64) -> np.ndarray:
    lam = np.asarray(eigenvalues, dtype=np.float64)
    q = random_orthogonal(lam.size, np.random.default_rng(seed))
    h = (q * lam) @ q.T
    return ((h + h.T) / 2).astype(dtype)


def _classify_cases() -> list[Case]:
    def case(label, h, why="", hostile=True):
        h = np.asarray(h)
        return Case(label, (h,), classify_critical_point(h).kind, why, hostile=hostile)

    return [
        case("H = diag(2, 3)", np.diag([2.0, 3.0]), hostile=False),
        case("H = [[-4, 1], [1, -3]]", np.array([[-4.0, 1.0], [1.0, -3.0]]), hostile=False),
        case("a rotated 4-D Hessian, eigenvalues -1, 2, 3, 5", _rotate([-1.0, 2.0, 3.0, 5.0], 1),
             "One negative eigenvalue among positive ones is enough for a saddle; the diagonal "
             "entries alone do not show it.", hostile=False),
        case("the monkey saddle at the origin (H = 0)", monkey_saddle().hessian(np.zeros(2)),
             "Every eigenvalue is 0: the second-order test says nothing (the point is a saddle of "
             "order three, but x^4 has the same Hessian at its minimum)."),
        case("H = diag(1, 1e-17)", np.diag([1.0, 1e-17]),
             "1e-17 is below the rounding level of the eigenvalues, n * eps * max|lambda| = "
             "4.4e-16: it is indistinguishable from 0, so the test is inconclusive."),
        case("H = diag(1, -1e-17)", np.diag([1.0, -1e-17]),
             "A tiny negative eigenvalue is rounding noise, not a direction of descent: treat "
             "|lambda| <= n * eps * max|lambda| as zero."),
        case("H = diag(1, 0, -1)", np.diag([1.0, 0.0, -1.0]),
             "Eigenvalues of both signs make a saddle, whatever the zero eigenvalue hides."),
        case("H = 1e-200 * diag(1, 2) (tiny scale)", np.diag([1e-200, 2e-200]),
             "A tolerance must scale with the Hessian: an absolute threshold like 1e-10 calls "
             "this clear minimum degenerate."),
        case("H = 1e200 * diag(-1, -3) (huge scale)", np.diag([-1e200, -3e200]),
             "Huge but clean eigenvalues: a maximum."),
        case("float32 H = diag(1, 1e-8)", np.diag([1.0, 1e-8]).astype(np.float32),
             "In float32 the rounding level is n * eps32 * max|lambda| = 2.4e-7: 1e-8 is noise. "
             "Use the epsilon of H's dtype."),
        case("a rotated 3-D Hessian, eigenvalues 1e-3, 1, 10", _rotate([1e-3, 1.0, 10.0], 2),
             "Small but clearly positive: a minimum.", hostile=False),
    ]


def _check_kind(case: Case, got: Any) -> str | None:
    if not isinstance(got, str):
        return f"returned {describe(got)}; return one of the strings {', '.join(map(repr, KINDS))}"
    if got == case.expected:
        return None
    if got not in KINDS:
        return f"returned {got!r}, which is not one of {', '.join(map(repr, KINDS))}"
    c = classify_critical_point(case.args[0])
    lam = ", ".join(f"{v:.3g}" for v in c.eigenvalues)
    return (f"returned {got!r}; expected {case.expected!r}. The eigenvalues are [{lam}] and "
            f"eigenvalues with |lambda| <= {c.tol:.3g} count as zero")


CLASSIFY = Exercise(
    id="03b_critical_points.classify",
    title="Classify a critical point from its Hessian",
    prompt=(
        "At a critical point the eigenvalues of the symmetric Hessian `H` decide: all positive, "
        "`'minimum'`; all negative, `'maximum'`; both signs, `'saddle'`; otherwise (some "
        "eigenvalue is zero and the rest share a sign, or all are zero) the test is inconclusive, "
        "`'degenerate'`. Computed eigenvalues are rarely exactly zero, so count "
        "$|\\lambda| \\le n\\,\\varepsilon\\,\\max_i|\\lambda_i|$ as zero, with $n$ the size of "
        "`H` and $\\varepsilon$ the machine epsilon of `H`'s dtype. Write `classify(H)` returning "
        "the string. `np` is NumPy."
    ),
    function="classify",
    start_code=(
        "def classify(H):\n"
        "    lam = np.linalg.eigvalsh(H)\n"
        "    if np.all(lam > 0):\n"
        "        return 'minimum'\n"
        "    if np.all(lam < 0):\n"
        "        return 'maximum'\n"
        "    return 'saddle'\n"
    ),
    solution=(
        "def classify(H):\n"
        "    lam = np.linalg.eigvalsh(H)\n"
        "    # The rounding error of a computed eigenvalue is about n * eps * max|lambda|:\n"
        "    # anything smaller is indistinguishable from 0. The tolerance scales with H.\n"
        "    tol = H.shape[0] * np.finfo(H.dtype).eps * np.max(np.abs(lam))\n"
        "    pos, neg = np.any(lam > tol), np.any(lam < -tol)\n"
        "    if pos and neg:\n"
        "        return 'saddle'\n"
        "    if np.any(np.abs(lam) <= tol):\n"
        "        return 'degenerate'  # includes H = 0\n"
        "    return 'minimum' if pos else 'maximum'\n"
    ),
    hints=(
        "Which cases fail? What are the eigenvalues there, and how large are they next to the "
        "largest one?",
        "Compute tol = n * eps * max|lambda| with np.finfo(H.dtype).eps, and treat |lambda| <= tol "
        "as zero. Check for both signs first: a saddle stays a saddle even with a zero eigenvalue.",
        "H = 0 gives max|lambda| = 0 and tol = 0; make sure that case still comes out "
        "'degenerate' (use <=, not <).",
    ),
    cases=_classify_cases,
    check=_check_kind,
)


# -- choose a finite-difference step ----------------------------------------------------------------

# The functions the checker differentiates, with their exact derivatives; each varies on the scale
# max(1, |x|) around the points it is used at, the assumption behind a relative step.
_FUNCTIONS = {
    "exp": (np.exp, np.exp),
    "log": (np.log, lambda x: 1.0 / x),
    "cube": (lambda x: x * x * x, lambda x: 3.0 * x * x),
    "sin": (np.sin, np.cos),
}
# A central difference with a good step is accurate to about eps**(2/3) relative; this much slack
# accepts steps within roughly a factor of 10 of the best one on these functions.
_SLACK = 100.0


def _central(fname: str, x: np.generic, h: float) -> float:
    f = _FUNCTIONS[fname][0]
    dt = np.asarray(x).dtype
    hh = np.asarray(h, dtype=np.float64).astype(dt)
    with np.errstate(all="ignore"):
        xp, xm = x + hh, x - hh
        return float((f(xp) - f(xm)) / (xp - xm))


# The functions each case's step is tried on, by case label (filled in by _fd_cases).
_TRIED_ON: dict[str, tuple[str, ...]] = {}


def _fd_cases() -> list[Case]:
    f32, f64 = np.float32, np.float64

    def case(label, x, fnames, why, hostile=True):
        x = np.asarray(x)[()]
        label = f"{label} ({x.dtype.name}; tried on {', '.join(fnames)})"
        _TRIED_ON[label] = tuple(fnames)
        best = default_step("central", x.dtype) * max(1.0, abs(float(x)))
        return Case(label, (x,), best, why, hostile=hostile)

    return [
        case("x = 1", f64(1.0), ("exp", "sin", "cube"), "", hostile=False),
        case("x = 1", f32(1.0), ("exp", "sin", "cube"),
             "float32 has eps = 1.2e-7: a step made for float64 leaves only rounding noise in "
             "f(x + h) - f(x - h). The best step grows with eps, like eps^(1/3)."),
        case("x = 1e6", f64(1e6), ("log", "cube"),
             "At x = 1e6 the spacing of float64 numbers is 1.2e-10: a step of 1e-8 changes only "
             "the last bits of x. Scale the step with |x|."),
        case("x = 3000", f32(3000.0), ("log", "cube"),
             "In float32 the spacing at 3000 is 2.4e-4: an unscaled small step is below it, and "
             "x + h rounds back to x (0 / 0)."),
        case("x = 0", f64(0.0), ("exp", "sin"),
             "A purely relative step h * |x| is 0 here: use h * max(1, |x|)."),
        case("x = 1e-6", f64(1e-6), ("exp", "sin"),
             "The functions still vary on a scale of 1 near x = 1e-6: a step of 1e-6 * h is far "
             "too small and drowns in rounding."),
        case("x = -2.5", f64(-2.5), ("exp", "sin", "cube"), "A negative x: the step is positive.",
             hostile=False),
    ]


def _check_step(case: Case, got: Any) -> str | None:
    """The central difference with the returned step must be nearly as accurate as with the best."""
    if isinstance(got, np.ndarray) and got.size == 1 and got.dtype.kind == "f":
        h = float(got.reshape(()))
    elif isinstance(got, float | int | np.floating | np.integer) and not isinstance(got, bool):
        h = float(got)
    else:
        return f"returned {describe(got)}; return one positive number (the step h)"
    if not (np.isfinite(h) and h > 0):
        return f"returned h = {h!r}; the step must be a finite positive number"
    x = case.args[0]
    eps = float(np.finfo(np.asarray(x).dtype).eps)
    limit = _SLACK * eps ** (2 / 3)
    for fname in _TRIED_ON[case.label]:
        exact = float(_FUNCTIONS[fname][1](np.float64(x)))
        approx = _central(fname, x, h)
        err = abs(approx - exact) / abs(exact)
        if not err <= limit:
            x64 = float(x)
            taken = float((np.asarray(x) + np.asarray(h).astype(np.asarray(x).dtype)) - np.asarray(x))
            if taken == 0:
                what = (f"x + h rounds back to x in {np.asarray(x).dtype.name} (the step is below "
                        f"half the spacing of numbers at {x64:g}), so the difference is 0 / 0")
            else:
                what = f"the central difference of {fname} is off by {err:.2g} relative"
            kind = "too small" if h < case.expected else "too large"
            return (f"with h = {h:.3g}, {what} (allowed {limit:.2g}); the step looks {kind}: "
                    f"a good one is near {case.expected:.3g}")
    return None


FD_STEP = Exercise(
    id="03b_critical_points.fd_step",
    title="Choose a finite-difference step",
    prompt=(
        "The central difference $f'(x) \\approx \\frac{f(x+h) - f(x-h)}{2h}$ has a truncation "
        "error about $h^2 |f'''| / 6$ and a rounding error about $\\varepsilon |f| / h$. Write "
        "`fd_step(x)` returning a good step `h` (a positive float) for a scalar `x` (a NumPy "
        "float64 or float32 number): the checker differentiates several smooth functions (exp, "
        "sin, log, x³) that vary on the scale $\\max(1, |x|)$, in `x`'s precision, and accepts "
        "a step whose error is within a modest factor of the best achievable, about "
        "$\\varepsilon^{2/3}$."
    ),
    function="fd_step",
    start_code=(
        "def fd_step(x):\n"
        "    return 1e-8\n"
    ),
    solution=(
        "def fd_step(x):\n"
        "    # Balance h^2 (truncation) against eps / h (rounding): h ~ eps^(1/3),\n"
        "    # in units of the scale on which f varies, max(1, |x|).\n"
        "    eps = np.finfo(np.asarray(x).dtype).eps\n"
        "    return float(eps ** (1 / 3) * max(1.0, abs(float(x))))\n"
    ),
    hints=(
        "Which cases fail: float32, large x, x = 0? What are x + h and x - h there?",
        "Minimize h^2 / 6 + eps / h over h: the best step is proportional to eps^(1/3), with "
        "eps = np.finfo(x.dtype).eps.",
        "Measure the step in units of the scale of x: h = eps^(1/3) * max(1, |x|).",
    ),
    cases=_fd_cases,
    check=_check_step,
)

EXERCISES = (CLASSIFY, FD_STEP)
