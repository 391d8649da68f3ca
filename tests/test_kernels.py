"""numdl._kernels, the compiled max-shift kernels: their exp table and exp against mpmath, every
instruction-set variant against numdl.reference within the accuracy claim and against the
pure-NumPy kernel, the long-row (segmented) path, the tiny-sum rescan, special values, and the
checks on their arguments.  The public functions' accuracy on every path is in test_stable.py."""

from __future__ import annotations

import struct

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numdl import reference, stable
from numdl._engine import config
from numdl.reference import condition_number, ulp_error

kernels = pytest.importorskip("numdl._kernels", reason="numdl._kernels did not build here")

VARIANTS = kernels.variants()
KINDS = ["logsumexp", "softmax", "log_softmax"]


@pytest.fixture(params=VARIANTS)
def variant(request):
    """Run a test with each instruction-set build this CPU can run (restored afterwards)."""
    before = kernels.variant()
    kernels.set_variant(request.param)
    yield request.param
    kernels.set_variant(before)


@pytest.fixture
def compiled():
    """The general path (no small-input shortcut) on the compiled kernel."""
    with config.override(small_threshold=0, long_double=None, kernels=kernels):
        yield


def claim(dtype, kappa):
    if np.dtype(dtype) != np.float64:
        return 1.0
    with np.errstate(over="ignore"):  # kappa may be inf (a result of 0 from nonzero inputs)
        return 2.0 * np.maximum(1.0, kappa)


def assert_within_claim(name, x):
    out = getattr(stable, name)(x, axis=-1)
    exact = getattr(reference, name)(x, axis=-1, rounded=False)
    errors = np.asarray(ulp_error(out, exact), dtype=np.float64)
    limit = claim(x.dtype, condition_number(name, x, axis=-1))
    assert np.all(errors <= limit), (name, x.dtype, errors.max())
    return out


def test_exp_table_is_correctly_rounded():
    bits, tails = kernels.table()
    with mpmath.workprec(300):
        for j in range(128):
            t = mpmath.mpf(2) ** (mpmath.mpf(j) / 128)
            hi = float(t)
            assert bits[j] == (struct.unpack("<Q", struct.pack("<d", hi))[0] - (j << 45)) % 2**64
            assert tails[j] == float((t - hi) / hi)


def test_exp_dd_to_2_pow_minus_58():
    rng = np.random.default_rng(3)
    ds = np.concatenate(
        [-rng.uniform(0, 650, 400), -rng.uniform(0, 1e-3, 100), [0.0, -650.0, -1e-300, -5e-324]]
    )
    with mpmath.workprec(200):
        for d in ds.tolist():
            dl = d * 2.0**-54  # a rounding error of the shift, carried into the argument
            hi, lo = kernels.exp_dd(d, dl)
            exact = mpmath.exp(mpmath.mpf(d) + mpmath.mpf(dl))
            assert abs(lo) <= abs(hi) * 2.0**-7
            assert abs((mpmath.mpf(hi) + lo - exact) / exact) < 2.0**-58, d
    with pytest.raises(ValueError, match="d must be in"):
        kernels.exp_dd(1.0)
    with pytest.raises(ValueError, match="d must be in"):
        kernels.exp_dd(-700.0)  # lo may be subnormal there: outside the documented range


def _suites(rng, dtype):
    n = 300
    return {
        "random 1": rng.standard_normal((6, n)),
        "random 100": 100 * rng.standard_normal((6, n)),
        "dominant": np.where(np.arange(n) == 7, 0.0, -40.0 - rng.uniform(0, 5, (3, n))),
        "confident": np.where(np.arange(n) == 0, 50.0, rng.standard_normal((3, n))),
        "large equal": np.full((2, n), 1000.0 if dtype == np.float64 else 80.0),
        "subnormal results": np.where(
            np.arange(n) < 2, 0.0, -720.0 if dtype == np.float64 else -100.0
        )
        + np.zeros((2, n)),
        "masked": np.where(np.arange(n) % 3 == 0, -np.inf, rng.standard_normal((3, n))),
    }


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", KINDS)
def test_each_variant_within_claim_and_beside_numpy_kernel(name, dtype, variant, compiled):
    rng = np.random.default_rng(11)
    for label, x in _suites(rng, dtype).items():
        x = x.astype(dtype)
        out = assert_within_claim(name, x)
        with config.override(kernels=None):
            pure = getattr(stable, name)(x, axis=-1)
        # Both are within the claim of the exact value (the NumPy kernel's is checked on the
        # numpy path in test_stable.py), so by the triangle inequality they differ by at most the
        # sum of the two claims -- and by no less in general: the NumPy kernel's error rests on
        # np.exp, whose last bit differs between CPUs (its float64 softmax is 1.8-2.1 ULP off),
        # the compiled kernel's on an exp good to 2**-58.  ulp_error counts in ULPs of pure's
        # binade, the exact value's here (it would halve only for an exact value a few ULP above
        # a power of two, which none of these suites has).
        limit = claim(x.dtype, condition_number(name, x, axis=-1))
        diff = np.asarray(ulp_error(out, pure.astype(np.float64)), dtype=np.float64)
        assert np.all(diff <= limit + limit), (label, diff.max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", KINDS)
def test_long_rows_by_segments(name, dtype, compiled):
    """A row of at least _SEGMENT_MIN elements is split into segments (read once per segment in
    chunks, rescaled to the running maximum); the result is the same as the whole-row kernel's
    within the claim."""
    rng = np.random.default_rng(5)
    n = 50_000  # several kernel chunks per segment
    rows = {
        "increasing": np.linspace(-30, 30, n),  # the maximum grows with every chunk
        "decreasing": np.linspace(30, -30, n),
        "random": 20 * rng.standard_normal(n),
        "one dominant late": np.where(np.arange(n) == n - 3, 0.0, -50.0),
        "masked": np.where(np.arange(n) % 2 == 0, -np.inf, rng.standard_normal(n)),
    }
    for label, row in rows.items():
        x = row.astype(dtype)[None, :]
        with config.override(segment_min=1000):
            segmented = getattr(stable, name)(x, axis=-1)
        with config.override(segment_min=1 << 40):
            whole = getattr(stable, name)(x, axis=-1)
        diff = np.asarray(ulp_error(segmented, whole.astype(np.float64)), dtype=np.float64)
        assert np.all(diff <= 1.0), (label, diff.max())
    # and against the exact values, on a row short enough for mpmath
    x = (30 * rng.standard_normal((1, 3000))).astype(dtype)
    with config.override(segment_min=100):
        assert_within_claim(name, x)


@pytest.mark.parametrize("segmented", [False, True], ids=["rows", "segments"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_tiny_sums_are_rescanned(dtype, segmented, compiled):
    """Terms below exp(-650) leave the first pass; where they are all there is besides the
    maximum, the sum is redone scaled by 2**200, so log_softmax at the maximum (-s, subnormal
    here) and logsumexp at a maximum of 0 keep them."""
    n = 2000
    gap = 710.0 if dtype == np.float64 else 100.0
    x = np.full((1, n), -gap)
    x[0, 1234] = 0.0
    x = x.astype(dtype)
    with config.override(segment_min=100 if segmented else config.SEGMENT_MIN):
        lse = stable.logsumexp(x, axis=-1)
        ls = stable.log_softmax(x, axis=-1)
    exact_lse = reference.logsumexp(x, axis=-1, rounded=False)
    exact_ls = reference.log_softmax(x, axis=-1, rounded=False)
    assert 0 < lse[0] < (1e-300 if dtype == np.float64 else 1e-40)  # not the 0 of a dropped sum
    # float64: a few ULP (the 1999 equal terms round alike; the claim allows 2 kappa ~ 1400)
    assert ulp_error(lse, exact_lse)[0] <= (4.0 if dtype == np.float64 else 0.5)
    assert ulp_error(ls[0, 1234], exact_ls[0, 1234]) <= (4.0 if dtype == np.float64 else 0.5)


@pytest.mark.parametrize("segmented", [False, True], ids=["rows", "segments"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_special_values(dtype, segmented, compiled):
    with config.override(segment_min=100 if segmented else config.SEGMENT_MIN):
        _check_special_values(dtype)


def _check_special_values(dtype):
    n = 1000
    base = np.linspace(-3, 3, n)
    nan_late, inf_then_nan, one_inf, two_inf, all_minf = (base.copy() for _ in range(5))
    nan_late[900] = np.nan
    inf_then_nan[10], inf_then_nan[990] = np.inf, np.nan
    one_inf[500] = np.inf
    two_inf[[100, 800]] = np.inf
    all_minf[:] = -np.inf
    for row, lse, sm_at, sm_rest in [
        (nan_late, np.nan, None, np.nan),
        (inf_then_nan, np.nan, None, np.nan),
        (one_inf, np.inf, (500, 1.0), 0.0),
        (two_inf, np.inf, (100, np.nan), 0.0),
        (all_minf, -np.inf, None, np.nan),
    ]:
        x = row.astype(dtype)[None, :]
        got = stable.logsumexp(x, axis=-1)[0]
        assert (np.isnan(got) and np.isnan(lse)) or got == lse
        sm = stable.softmax(x, axis=-1)[0]
        rest = np.delete(sm, [sm_at[0]] if sm_at else [])
        if np.isnan(sm_rest):
            assert np.isnan(rest).all()
        else:
            assert (rest[np.isfinite(np.delete(row, [sm_at[0]] if sm_at else []))] == 0).all()
        if sm_at:
            assert (np.isnan(sm[sm_at[0]]) and np.isnan(sm_at[1])) or sm[sm_at[0]] == sm_at[1]


def test_non_contiguous_and_stacked_inputs(compiled):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((40, 30))
    for axis in (0, 1):
        got = stable.softmax(x, axis=axis)
        want = stable.softmax(np.ascontiguousarray(np.moveaxis(x, axis, -1)), axis=-1)
        np.testing.assert_array_equal(np.moveaxis(got, axis, -1), want)
    sliced = x[::2, 1:]  # strided rows
    np.testing.assert_array_equal(
        stable.log_softmax(sliced, axis=-1), stable.log_softmax(sliced.copy(), axis=-1)
    )


def test_misaligned_input_is_copied(compiled):
    """A float view at an odd byte offset (legal in NumPy) is copied before the kernel reads it
    (the kernel itself refuses misaligned buffers)."""
    raw = np.zeros(8 * 3000 + 16, np.uint8)
    x = raw[1 : 1 + 8 * 3000].view(np.float64).reshape(3, 1000)
    x[...] = np.random.default_rng(4).standard_normal((3, 1000))
    assert not x.flags.aligned
    np.testing.assert_array_equal(stable.softmax(x), stable.softmax(x.copy()))
    with pytest.raises(ValueError, match="not aligned"):
        kernels.seg_stats(x.reshape(-1), 0, 10, False)


def test_argument_checks():
    x = np.zeros(10)
    a, k, s = np.empty(2), np.empty(2, dtype=np.int64), np.empty(2)
    with pytest.raises(ValueError, match="x: buffer of 80 bytes, need 160"):
        kernels.rows(x, None, a, k, s, 10, 0, 2, 0, False)
    with pytest.raises(ValueError, match="bad n, row range or kind"):
        kernels.rows(x, None, a, k, s, 5, 0, 2, 1, False)  # softmax without an output
    with pytest.raises(ValueError, match="bad n, row range or kind"):
        kernels.rows(x, None, a, k, s, 0, 0, 1, 0, False)  # empty rows: the caller's case
    with pytest.raises(ValueError, match="out of range"):
        kernels.rows(x, None, a, k, s, 2**62, 0, 2, 0, False)  # r1 * n * 8 would overflow
    with pytest.raises(ValueError, match="out of range"):
        kernels.seg_stats(x, 0, 2**61, False)
    with pytest.raises(ValueError, match="bad segment bounds"):
        kernels.seg_sums(x, 5, 2, 0.0, False)
    with pytest.raises(ValueError, match="need 88"):
        kernels.seg_stats(x, 0, 11, False)
    with pytest.raises(ValueError, match="kind must be"):
        kernels.seg_outputs(x, np.empty(10), 0, 10, 0.0, 1.0, 0.0, 0.0, 0, False)
    with pytest.raises(ValueError, match="m <= a"):
        kernels.rescale(1.0, 0.0, 2.0, 1.0)
    with pytest.raises(ValueError, match="not available"):
        kernels.set_variant("sse9")
    with pytest.raises(ValueError, match="not C-contiguous"):
        kernels.seg_stats(np.zeros((4, 4))[:, ::2], 0, 4, False)
    with pytest.raises(TypeError):
        kernels.seg_sums(np.zeros(10), 0, 10, 0.0, False, True, 3)  # too many arguments


def test_pure_numpy_switch(monkeypatch):
    """NUMDL_PURE_NUMPY=1 makes numdl.stable ignore the compiled kernels."""
    monkeypatch.setenv("NUMDL_PURE_NUMPY", "1")
    assert config.load_kernels() is None
    monkeypatch.setenv("NUMDL_PURE_NUMPY", "0")
    assert config.load_kernels() is kernels


def test_variant_from_the_environment(monkeypatch):
    """NUMDL_KERNEL_VARIANT picks a build (make test reruns the kernel tests on each); a build
    this CPU cannot run is a ValueError naming the variable."""
    monkeypatch.delenv("NUMDL_PURE_NUMPY", raising=False)  # a run on the NumPy kernel sets it
    before = kernels.variant()
    try:
        for name in VARIANTS:
            monkeypatch.setenv("NUMDL_KERNEL_VARIANT", name)
            assert config.load_kernels() is kernels and kernels.variant() == name
        monkeypatch.setenv("NUMDL_KERNEL_VARIANT", "avx1024")
        with pytest.raises(ValueError, match=r"NUMDL_KERNEL_VARIANT='avx1024'.*generic"):
            config.load_kernels()
    finally:
        kernels.set_variant(before)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([np.float64, np.float32]),
    st.sampled_from(KINDS),
    st.integers(1, 3),
    st.integers(1, 600),
    st.integers(0, 2**32 - 1),
    st.sampled_from([1.0, 30.0, 700.0]),
)
def test_property_compiled_within_claim(dtype, name, rows, n, seed, scale):
    """Random rows of every length up to a few blocks, at scales up to exp's range, with a few
    extreme entries (the format's largest finite, -inf): the compiled kernel within the claim."""
    rng = np.random.default_rng(seed)
    x = scale * rng.standard_normal((rows, n))
    fmax = float(np.finfo(dtype).max)
    for value in rng.choice([0.0, -np.inf, fmax / 2, -fmax / 2], size=2):
        if value:
            x[rng.integers(rows), rng.integers(n)] = value
    x = x.astype(dtype)
    with config.override(small_threshold=0, long_double=None, kernels=kernels):
        assert_within_claim(name, x)


def test_thread_count_from_the_environment(monkeypatch):
    monkeypatch.setenv("NUMDL_NUM_THREADS", "3")
    assert config.thread_count() == 3
    monkeypatch.delenv("NUMDL_NUM_THREADS")
    assert 1 <= config.thread_count() <= 8
    for bad in ("0", "-2", "many"):
        monkeypatch.setenv("NUMDL_NUM_THREADS", bad)
        with pytest.raises(ValueError, match="NUMDL_NUM_THREADS must be a positive integer"):
            config.thread_count()


def test_one_thread_gives_the_same_results(compiled):
    """Threads share rows and segments, which depend on the input's shape only: one thread
    computes the same values as several."""
    rng = np.random.default_rng(8)
    functions = (stable.logsumexp, stable.softmax, stable.log_softmax)
    for x in (rng.standard_normal((64, 5000)), rng.standard_normal((3, 300_000))):
        with config.override(segment_min=20_000, threads=4):
            many = [f(x, axis=-1) for f in functions]
        with config.override(segment_min=20_000, threads=1):
            one = [f(x, axis=-1) for f in functions]
        for a, b in zip(many, one, strict=True):
            np.testing.assert_array_equal(a, b)


def test_variants_does_not_leak():
    """variants() builds a new list of new strings at each call; all of it is freed (an early
    version kept a reference to every string: ~190 bytes a call)."""
    import tracemalloc

    names = kernels.variants()
    assert names[0] == "generic" and kernels.variant() in names
    kernels.variants()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(20_000):
            kernels.variants()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 20_000, grown  # a leak of one string per call would be ~1 MB
