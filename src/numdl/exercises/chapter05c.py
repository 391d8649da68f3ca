"""Exercises of chapter 5c: a running variance that survives hostile streams, and float16 batch norm."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from numdl.exercises.encoding import Unsupported
from numdl.exercises.grading import Case, Exercise, close_to
from numdl.norm import batch_norm

__all__ = ["BATCH_NORM_FP16", "EXERCISES", "RUNNING_VARIANCE", "VARIANCE_RTOL", "exact_variance"]

# Required relative accuracy of the running variance, by dtype: a stable one-pass method keeps
# an error of a few (k + log2 n) * kappa * u, kappa = sqrt(1 + mean**2 / var) (at most 3e-3 on
# these cases in float32); E[x^2] - E[x]^2 loses kappa**2 * u (at least 5, i.e. 500%).
VARIANCE_RTOL = {"float64": 1e-6, "float32": 2e-2}


def exact_variance(batches: Sequence[np.ndarray]) -> Fraction:
    """Population variance of all the stored values, in exact rational arithmetic."""
    values = [Fraction(float(v)) for b in batches for v in np.asarray(b).ravel()]
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / len(values)


def _variance_cases() -> list[Case]:
    rng = np.random.default_rng(17)
    f32, f64 = np.float32, np.float64

    def stream(offset, std, n_batches, size, dtype):
        return [(offset + std * rng.standard_normal(size)).astype(dtype) for _ in range(n_batches)]

    def case(label, batches, why, hostile=True):
        dtype = batches[0].dtype
        var = exact_variance(batches)
        n = sum(b.size for b in batches)
        return Case(f"{label} ({dtype.name}, {len(batches)} batches, {n} values)", (batches,),
                    np.asarray(float(var), dtype=np.float64).astype(dtype)[()], why,
                    hostile=hostile)

    sizes = [1, 0, 3, 100, 2, 1, 500, 7, 0, 1] * 5
    return [
        case("[1, 2, 3], [4, 5]", [np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0])], "",
             hostile=False),
        case("1e4 + N(0, 1)", stream(1e4, 1.0, 50, 64, f32),
             "E[x^2] and E[x]^2 are both about 1e8, where float32's spacing is 8: their "
             "difference, the variance 1, is pure rounding error (and can be negative)."),
        case("1e6 + N(0, 10^2)", stream(1e6, 10.0, 50, 64, f32),
             "The squares are about 1e12, the variance 100: 10 digits would cancel, float32 has 7."),
        case("1e8 + N(0, 100^2)", stream(1e8, 100.0, 50, 64, f32),
             "Here even the data are coarse (float32's spacing at 1e8 is 8); the squares are 1e16."),
        case("1 + N(0, 1e-4^2): a tiny variance", stream(1.0, 1e-4, 50, 64, f32),
             "The variance is 1e-8 of the squared mean: E[x^2] - E[x]^2 subtracts two numbers "
             "equal to 8 digits."),
        case("1e4 + N(0, 1), one value per batch", stream(1e4, 1.0, 2000, 1, f32),
             "Single-value batches (Welford's case): a batch's own variance is 0, all the "
             "information is in how its mean differs from the running mean."),
        case("1e5 + N(0, 1), batches of 0 to 500 values", [(1e5 + rng.standard_normal(k)).astype(f32)
                                                         for k in sizes],
             "Uneven batch sizes, some empty: weight each batch by its size, skip the empty ones."),
        case("1e9 + N(0, 1)", stream(1e9, 1.0, 40, 64, f64),
             "float64 is not immune: the squares are 1e18, and 18 digits would have to survive "
             "the subtraction; float64 keeps 16."),
        case("the constant 3.3", [np.full(37, 3.3, f32) for _ in range(7)],
             "The variance is exactly 0; E[x^2] - E[x]^2 rounds to a small negative number. A "
             "variance is never negative (its square root, a standard deviation, would be NaN)."),
        case("a mean drifting from 1e4 to 1.6e4", [(1e4 + 100.0 * i + rng.standard_normal(32))
                                                    .astype(f32) for i in range(60)],
             "Most of the variance is between the batches: averaging the batches' own variances "
             "misses it."),
    ]


def _check_variance(case: Case, got: Any) -> str | None:
    """Relative error within VARIANCE_RTOL (an exact 0 must come back as 0 up to (4 u mean)**2)."""
    expected = np.asarray(case.expected)
    dtype = expected.dtype
    if isinstance(got, Unsupported):
        return f"returned {got.what}; return a NumPy scalar"
    if not isinstance(got, np.ndarray | np.generic | float) or np.ndim(got) != 0:
        return f"returned {type(got).__name__}; return one number (a NumPy scalar of the dtype)"
    if isinstance(got, np.ndarray | np.generic) and np.asarray(got).dtype != dtype:
        return f"returned a {np.asarray(got).dtype.name} number; keep {dtype.name}"
    g = float(got)
    if np.isnan(g):
        return "returned nan"
    if g < 0:
        return (f"returned {g:.4g}, a negative variance: E[x^2] - E[x]^2 subtracted two nearly "
                "equal numbers and kept only their rounding errors")
    e = float(expected)
    batches = case.args[0]
    mean = float(np.mean(np.concatenate([np.asarray(b, dtype=np.float64) for b in batches])))
    u = float(np.finfo(dtype).eps) / 2
    floor = (4 * u * abs(mean)) ** 2
    rtol = VARIANCE_RTOL[dtype.name]
    if abs(g - e) <= rtol * e + floor:
        return None
    reason = f"returned {g:.7g}; expected {e:.7g} (relative error {abs(g - e) / e:.2g}, allowed {rtol:g})" if e else (
        f"returned {g:.4g}; expected exactly 0")
    kappa2 = 1 + mean * mean / e if e else float("inf")
    if kappa2 * u > rtol:
        reason += (f". mean**2 / var = {kappa2 - 1:.2g}: a formula that subtracts E[x]^2 from "
                   f"E[x^2] loses about {kappa2 * u:.2g} relative")
    return reason


RUNNING_VARIANCE = Exercise(
    id="05c_batch_norm.running_variance",
    title="A running variance for hostile streams",
    prompt=(
        "Write `running_variance(batches)`: `batches` is a list of 1-D arrays of one dtype "
        "(float32 or float64), some with a single value or none. Return the **population "
        "variance** of all the values, as a scalar of that dtype, within 2% (float32) or 1e-6 "
        "(float64) of the exact value. Work like a running statistic in a training loop: look at "
        "each batch once, in order, keep only a few numbers between batches (no concatenating, "
        "no second pass), and compute in the batches' dtype (no float64 for float32 data)."
    ),
    function="running_variance",
    start_code=(
        "def running_variance(batches):\n"
        "    dt = batches[0].dtype.type\n"
        "    s1, s2, n = dt(0), dt(0), 0  # running sums of x and x**2\n"
        "    for b in batches:\n"
        "        s1 = dt(s1 + np.sum(b))\n"
        "        s2 = dt(s2 + np.sum(b * b))\n"
        "        n += b.size\n"
        "    mean = s1 / dt(n)\n"
        "    return s2 / dt(n) - mean * mean  # E[x^2] - E[x]^2\n"
    ),
    solution=(
        "def running_variance(batches):\n"
        "    dt = batches[0].dtype.type\n"
        "    n, mean, m2 = 0, dt(0), dt(0)  # count, mean, sum of squared deviations\n"
        "    for b in batches:\n"
        "        nb = b.size\n"
        "        if nb == 0:\n"
        "            continue\n"
        "        # The batch's own mean and squared deviations (two passes over the batch,\n"
        "        # the second corrected by the mean of the deviations).\n"
        "        mb = np.mean(b)\n"
        "        d = b - mb\n"
        "        mb = mb + np.mean(d)\n"
        "        m2b = np.sum(d * d) - dt(nb) * np.mean(d) ** 2\n"
        "        # Chan, Golub & LeVeque's merge: nothing of size mean**2 is ever formed,\n"
        "        # only deviations. For nb = 1 this is Welford's update.\n"
        "        total = n + nb\n"
        "        delta = mb - mean\n"
        "        mean = mean + delta * dt(nb / total)\n"
        "        m2 = m2 + m2b + delta * delta * dt(n * (nb / total))\n"
        "        n = total\n"
        "    return max(m2, dt(0)) / dt(n)\n"
    ),
    hints=(
        "What are E[x^2] and E[x]^2 for data near 1e4 in float32, and how far apart are they "
        "compared with float32's spacing there?",
        "Keep the mean and M2 = sum of squared deviations from the mean instead of raw sums: "
        "deviations are small, so nothing large is subtracted.",
        "To merge a batch (count nb, mean mb, squared deviations m2b) into (n, mean, m2): delta "
        "= mb - mean; mean += delta * nb/(n+nb); m2 += m2b + delta**2 * n*nb/(n+nb) (Chan et "
        "al.; with nb = 1 it is Welford's update).",
    ),
    cases=_variance_cases,
    check=_check_variance,
)


def _bn_cases() -> list[Case]:
    rng = np.random.default_rng(29)
    f16 = np.float16

    def case(label, x, eps, why, hostile=True):
        x = np.asarray(x, dtype=f16)
        # The reference: batch_norm on the exact stored values in float64, rounded once.
        y, _ = batch_norm(x.astype(np.float64), None, None, eps=eps)
        return Case(f"{label}, eps = {eps:g}", (x, eps), y.astype(f16), why, hostile=hostile)

    normal = rng.standard_normal((32, 4))
    const = np.column_stack([rng.standard_normal(16), np.full(16, 0.75)])
    wide = np.column_stack([400.0 * rng.standard_normal(64), rng.standard_normal(64)])
    tie = np.where(np.arange(16) % 2 == 0, 8.0, 8.0 + 2.0**-7)[:, None]
    offset = 1000.0 + rng.standard_normal((64, 2))
    return [
        case("32 x 4 standard normal", normal, 1e-5, "", hostile=False),
        case("a constant feature", const, 1e-8,
             "eps = 1e-8 rounds to 0 in float16 (the smallest float16 is 6e-8), so the constant "
             "feature computes 0 / sqrt(0) = nan. Add eps in float32."),
        case("a feature with standard deviation 400", wide, 1e-5,
             "Its variance, 1.6e5, overflows float16 (largest 65504): 1/sqrt(inf) = 0 flattens "
             "the feature. Keep the statistics in float32."),
        case("values 8 and 8 + 2^-7 alternating", tie, 1e-5,
             "The mean 8 + 2^-8 is a tie in float16 and rounds to 8: every deviation is then 0 or "
             "2^-7 instead of -2^-8 or +2^-8, and the outputs 0 and 1.23 instead of -0.78 and "
             "+0.78."),
        case("1000 + N(0, 1)", offset, 1e-5,
             "float16's spacing at 1000 is 0.5: a mean rounded to float16 is off by up to a "
             "quarter of a standard deviation, and so is every output."),
    ]


BATCH_NORM_FP16 = Exercise(
    id="05c_batch_norm.batch_norm_fp16",
    title="Batch norm for float16 activations",
    prompt=(
        "Write `batch_norm_fp16(x, eps)` for float16 activations `x` of shape (batch, features) "
        "and a Python float `eps`, returning the float16 array $\\hat x = (x - \\mu_B) / "
        "\\sqrt{\\sigma_B^2 + \\varepsilon}$ per feature ($\\mu_B$, $\\sigma_B^2$: the batch mean "
        "and biased variance; no $\\gamma$, $\\beta$), within float16 rounding of the exact "
        "result. The input and the output are float16; what happens in between is up to you."
    ),
    function="batch_norm_fp16",
    start_code=(
        "def batch_norm_fp16(x, eps):\n"
        "    mean = x.mean(axis=0)\n"
        "    var = ((x - mean) ** 2).mean(axis=0)\n"
        "    return (x - mean) / np.sqrt(var + eps)\n"
    ),
    solution=(
        "def batch_norm_fp16(x, eps):\n"
        "    # What PyTorch's kernels do: statistics and normalization in float32, only\n"
        "    # the input and the output in float16. In float16, eps = 1e-8 would round to\n"
        "    # 0, a variance above 65504 would overflow, and the mean would round to\n"
        "    # float16's coarse spacing.\n"
        "    x32 = x.astype(np.float32)\n"
        "    mean = x32.mean(axis=0)\n"
        "    d = x32 - mean\n"
        "    var = (d * d).mean(axis=0)\n"
        "    return (d / np.sqrt(var + np.float32(eps))).astype(np.float16)\n"
    ),
    hints=(
        "Run the failing cases in your head in float16: what is np.float16(1e-8)? What is "
        "np.float16(400.0) ** 2? What is the float16 spacing near 1000?",
        "float16 is a storage format here: convert to float32 first, compute everything there, "
        "and round only the result back to float16 (as mixed-precision training does).",
    ),
    cases=_bn_cases,
    check=close_to(atol=4e-3),
)

EXERCISES = (RUNNING_VARIANCE, BATCH_NORM_FP16)
