"""Chapter 2b's simulations: cancellation in ULPs, summation errors against n."""

from __future__ import annotations

import numpy as np
import pytest

from numdl.tutorial.simulations import ch02b


def test_cancellation_errors_naive_loses_everything_stable_stays_within_a_few_ulp():
    for dtype, floor in (("float64", 1e15), ("float32", 1e6), ("float16", 1e2)):
        r = ch02b.cancellation_errors(np.logspace(-12, 1, 120), dtype)
        assert np.max(r["stable"]) <= 4, dtype
        assert np.nanmax(np.where(np.isfinite(r["naive"]), r["naive"], np.nan)) > floor, dtype


def test_accumulation_and_ordering():
    ns = [10, 1000, 100_000]
    errs = ch02b.accumulation_errors("0.1 repeated", "float32", ns, rng=np.random.default_rng(0))
    assert errs["naive"][-1] > 100 * errs["neumaier"][-1]
    assert errs["neumaier"][-1] <= np.finfo(np.float32).eps
    # float16 naive stagnates: adding 0.1 to 256 rounds back to 256.
    e16 = ch02b.accumulation_errors("0.1 repeated", "float16", [5000], methods=("naive",),
                                    rng=np.random.default_rng(0))
    assert e16["naive"][0] > 0.4
    h = ch02b.harmonic_orders(10**5, "float32")
    assert h["smallest first error"] < h["largest first error"]
    with pytest.raises(ValueError, match="kind="):
        ch02b.make_sequence("nope", 10, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="n=0"):
        ch02b.harmonic_orders(0)


def test_accumulation_errors_sum_prefixes_of_one_draw():
    # every n sums a prefix of the same sequence: the draw of make_sequence with the same stream
    x = ch02b.make_sequence("uniform [0, 1)", 1000, "float32", rng=np.random.default_rng(5))
    assert x.dtype == np.float32 and np.all((x >= 0) & (x < 1))
    errs = ch02b.accumulation_errors("uniform [0, 1)", "float32", [1000], methods=("naive",),
                                     rng=np.random.default_rng(5))
    exact = float(np.sum(x.astype(np.float64)))  # within ~1e-16: far below the naive error
    naive = float(np.cumsum(x, dtype=np.float32)[-1])
    assert errs["naive"][0] == pytest.approx(abs(naive - exact) / exact, rel=1e-6)


@pytest.mark.parametrize("ns", [[], [0, 10]])
def test_accumulation_errors_needs_positive_lengths(ns):
    with pytest.raises(ValueError, match="ns="):
        ch02b.accumulation_errors("0.1 repeated", "float32", ns, rng=np.random.default_rng(0))


@pytest.mark.parametrize("bad", [0, None, np.random.RandomState(0)])
def test_rng_must_be_a_generator(bad):
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        ch02b.make_sequence("uniform [0, 1)", 10, rng=bad)
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        ch02b.accumulation_errors("uniform [0, 1)", "float32", [10], rng=bad)
