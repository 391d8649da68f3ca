"""numdl's stable functions and losses on every array library users have: PyTorch, JAX and
array-api-strict (the array API standard and nothing more, so that no NumPy-only call hides in the
array-API path).  Values against the NumPy path and numdl.reference (the same ULP claims), the
result's dtype and type, each library's own dtype promotion, gradients (jax.grad, torch
autograd in every float format), jax.jit / jax.vmap and torch.compile, and the regressions of the
empty reduced axis and of torch's promotion.

JAX's float64 working precision needs ``jax_enable_x64``, a global switch: the ``jax_x64``
fixture turns it on for one test and restores it after, so other modules see JAX as configured.
"""

from __future__ import annotations

import math
import warnings

import ml_dtypes
import numpy as np
import pytest
import scipy.special

import numdl
from numdl import reference, stable
from numdl._engine import certify
from numdl._engine.xp import xp_one_minus_cos_ratio
from numdl.reference import condition_number, ulp_error

pytestmark = pytest.mark.kernels

BF16 = np.dtype(ml_dtypes.bfloat16)
F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
ALL_FLOATS = [F64, F32, F16, BF16]

# The NumPy path and the array-API path are each within numdl's claim of the exact value: 1 ULP for
# the narrow formats, 2 max(1, kappa) ULP for float64.  Where no reference is evaluated the two are
# compared with each other: twice the claim, with kappa <= 2**5 for these inputs (|x| <= 60,
# results away from 0 except where the identity keeps the small value).
PAIR_ULP = {F64: 2 * 2 * 2.0**5, F32: 2.0, F16: 2.0, BF16: 2.0}
# Gradients: computed in float64 and rounded once to the input's format (or, for torch's own
# narrow formats, compared with the float64 gradient): relative to the largest gradient entry.
GRAD_RTOL = {F64: 2.0**-40, F32: 2.0**-21, F16: 2.0**-9, BF16: 2.0**-6}


# ---------------------------------------------------------------------------------------------
# The backends
# ---------------------------------------------------------------------------------------------


class Backend:
    """One array library: how to make its arrays from NumPy ones and read them back."""

    def __init__(self, name, mod, to, back, floats, array_type):
        self.name, self.mod, self.to, self.back = name, mod, to, back
        self.floats, self.array_type = floats, array_type

    def dtype(self, np_dtype):
        return self.to(np.zeros(1, dtype=np_dtype)).dtype


def _torch_backend():
    torch = pytest.importorskip("torch")
    from numdl._dtypes import to_numpy

    def to(a):
        a = np.asarray(a)
        if a.dtype == BF16:
            return torch.from_numpy(a.view(np.int16).copy()).view(torch.bfloat16)
        return torch.from_numpy(a.copy())

    return Backend("torch", torch, to, to_numpy, ALL_FLOATS, torch.Tensor)


def _jax_backend():
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    return Backend("jax", jnp, jnp.asarray, np.asarray, ALL_FLOATS, jax.Array)


def _strict_backend():
    xs = pytest.importorskip("array_api_strict")
    return Backend("strict", xs, xs.asarray, np.from_dlpack, BACKEND_FLOATS["strict"],
                   xs.asarray(0).__class__)


# The float formats each library has (array-api-strict: the standard's float32 and float64 only);
# a test over backends and dtypes is generated for exactly these pairs.
BACKEND_FLOATS = {"torch": ALL_FLOATS, "jax": ALL_FLOATS, "strict": [F64, F32]}
BACKEND_DTYPES = [pytest.param(b, d, id=f"{b}-{np.dtype(d).name}")
                  for b, floats in BACKEND_FLOATS.items() for d in floats]


@pytest.fixture
def jax_x64():
    """jax_enable_x64 on for one test (it is global), restored after."""
    jax = pytest.importorskip("jax")
    before = jax.config.read("jax_enable_x64")
    jax.config.update("jax_enable_x64", True)
    try:
        yield jax
    finally:
        jax.config.update("jax_enable_x64", before)


@pytest.fixture
def jax_x32():
    """jax_enable_x64 off for one test (JAX's default), restored after."""
    jax = pytest.importorskip("jax")
    before = jax.config.read("jax_enable_x64")
    jax.config.update("jax_enable_x64", False)
    try:
        yield jax
    finally:
        jax.config.update("jax_enable_x64", before)


@pytest.fixture(params=list(BACKEND_FLOATS))
def backend(request):
    if request.param == "jax":
        request.getfixturevalue("jax_x64")
    return {"torch": _torch_backend, "jax": _jax_backend, "strict": _strict_backend}[
        request.param
    ]()


# ---------------------------------------------------------------------------------------------
# Inputs and cases: (function of the arrays, inputs, reference name or None)
# ---------------------------------------------------------------------------------------------


def _rows(rng, dtype):
    x = rng.standard_normal((6, 9)) * 8
    x[1] = np.log(scipy.special.softmax(rng.standard_normal(9)))  # log-probabilities: lse ~ 0
    x[2, :] = 0.0
    x[2, 0] = 50.0  # the confident row: log_softmax keeps -2 exp(-50)... on its top entry
    x[3, 2] = -np.inf
    x[4] *= 6
    return x.astype(dtype)


def _elems(rng, dtype):
    x = np.concatenate([rng.standard_normal(12) * 10, [0.0, -40.0, 40.0, 1e-3, -60.0]])
    return x.astype(dtype)


def _weights(rng, shape, signed=False):
    w = rng.uniform(0.1, 2.0, shape)
    if signed:
        w[..., 0] = -w[..., 0]
    return w


CASES = {
    "logsumexp": (lambda x: numdl.logsumexp(x, axis=-1), lambda r, d: (_rows(r, d),), "lse"),
    "logsumexp-axis0-keepdims": (
        lambda x: numdl.logsumexp(x, axis=0, keepdims=True), lambda r, d: (_rows(r, d),), None),
    "logsumexp-axis-none": (lambda x: numdl.logsumexp(x), lambda r, d: (_rows(r, d),), None),
    "logsumexp-b": (lambda x, b: numdl.logsumexp(x, axis=-1, b=b),
                    lambda r, d: (_rows(r, d), _weights(r, (6, 9)).astype(d)), "lse"),
    "logsumexp-return_sign": (
        lambda x, b: numdl.logsumexp(x, axis=-1, b=b, return_sign=True),
        lambda r, d: (_rows(r, d)[[0, 4]], _weights(r, (2, 9), signed=True).astype(d)), None),
    "logsumexp-where": (lambda x, m: numdl.logsumexp(x, axis=-1, where=m),
                        lambda r, d: (_rows(r, d), r.uniform(size=(6, 9)) < 0.7), None),
    "softmax": (lambda x: numdl.softmax(x), lambda r, d: (_rows(r, d),), "softmax"),
    "softmax-axis0": (lambda x: numdl.softmax(x, axis=0), lambda r, d: (_rows(r, d),), None),
    "softmax-where": (lambda x, m: numdl.softmax(x, where=m),
                      lambda r, d: (_rows(r, d), r.uniform(size=(6, 9)) < 0.7), None),
    "log_softmax": (lambda x: numdl.log_softmax(x), lambda r, d: (_rows(r, d),), "log_softmax"),
    "log_softmax-where": (lambda x, m: numdl.log_softmax(x, where=m),
                          lambda r, d: (_rows(r, d), r.uniform(size=(6, 9)) < 0.7), None),
    "sigmoid": (numdl.sigmoid, lambda r, d: (_elems(r, d),), "sigmoid"),
    "log_sigmoid": (numdl.log_sigmoid, lambda r, d: (_elems(r, d),), "log_sigmoid"),
    "softplus": (numdl.softplus, lambda r, d: (_elems(r, d),), "softplus"),
    "softplus-beta-threshold": (lambda x: numdl.softplus(x, beta=2.0, threshold=20.0),
                                lambda r, d: (_elems(r, d),), None),
    "log1mexp": (numdl.log1mexp, lambda r, d: (_elems(r, d)[_elems(r, d) != 0],), "log1mexp"),
    "logaddexp": (numdl.logaddexp, lambda r, d: (_elems(r, d), _elems(r, d)[::-1].copy()),
                  "logaddexp"),
    "cross_entropy": (lambda x, t: numdl.cross_entropy(x, t),
                      lambda r, d: (_rows(r, d)[[0, 1, 2, 4]], np.array([3, 0, 0, 8])), None),
    "cross_entropy-none-smoothing": (
        lambda x, t: numdl.cross_entropy(x, t, reduction="none", label_smoothing=0.1),
        lambda r, d: (_rows(r, d)[[0, 1, 2, 4]], np.array([3, 0, 0, 8])), None),
    "cross_entropy-ignore_index-sum": (
        lambda x, t: numdl.cross_entropy(x, t, reduction="sum", ignore_index=-100),
        lambda r, d: (_rows(r, d)[[0, 1, 2, 4]], np.array([3, -100, 0, 8])), None),
    "cross_entropy-probabilities": (
        lambda x, p: numdl.cross_entropy(x, p),
        lambda r, d: (_rows(r, d), scipy.special.softmax(r.standard_normal((6, 9)), axis=-1)
                      .astype(d)), None),
    "bce": (lambda x, y: numdl.binary_cross_entropy_with_logits(x, y),
            lambda r, d: (_elems(r, d), (r.uniform(size=17) < 0.5).astype(d)), None),
    "bce-none-pos_weight": (
        lambda x, y, w: numdl.binary_cross_entropy_with_logits(x, y, reduction="none",
                                                               pos_weight=w),
        lambda r, d: (_elems(r, d), r.uniform(size=17).astype(d), _weights(r, 17).astype(d)),
        None),
}


def _check_reference(ref_name, out_np, args_np, skip=None):
    """numdl's claim against numdl.reference, as tests/test_stable.py checks it (`skip`: the
    elements XLA flushed to 0)."""
    name = {"lse": "logsumexp"}.get(ref_name, ref_name)
    kwargs = {"axis": -1} if name in ("logsumexp", "softmax", "log_softmax") else {}
    if len(args_np) == 2 and name == "logsumexp":
        kwargs["b"] = args_np[1]
        args_np = args_np[:1]
    exact = getattr(reference, name)(*args_np, rounded=False, **kwargs)
    errors = np.asarray(ulp_error(out_np, exact), dtype=np.float64)
    if skip is not None:
        errors = np.where(skip, 0.0, errors)
    kappa = condition_number(name, *args_np, **kwargs)
    limit = 1.0 if out_np.dtype != F64 else 2.0 * np.maximum(1.0, kappa)
    assert np.all(errors <= limit), (name, np.max(errors))


def _as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


def _compare(be, out, expected, dtype):
    """`out` (the backend's) is an array of its library with `dtype` and agrees with the NumPy
    path's `expected` within :data:`PAIR_ULP`."""
    for o, e in zip(_as_tuple(out), _as_tuple(expected)):
        assert isinstance(o, be.array_type), type(o)
        assert o.dtype == be.dtype(dtype), (o.dtype, dtype)
        o_np, e_np = be.back(o), np.asarray(e)
        assert o_np.shape == e_np.shape
        assert np.array_equal(np.isnan(o_np), np.isnan(e_np))
        ok = ~np.isnan(e_np)
        if be.name == "jax":
            # XLA on CPU flushes subnormal results to 0 (float32's exp(-100) = 3.8e-44 is 0)
            tiny = float(np.finfo(e_np.dtype).tiny) if e_np.dtype != BF16 else 2.0**-126
            ok &= ~((o_np == 0) & (np.abs(e_np.astype(np.float64)) < tiny))
        errors = np.asarray(ulp_error(o_np[ok], e_np[ok].astype(np.float64)), dtype=np.float64)
        close = errors <= PAIR_ULP[dtype]
        if dtype == F64:
            # near a result of 0 float64's claim is relative to the condition number, i.e. an
            # absolute error of a few u W, W = sum |x_j| p_j <= 150 here
            close |= np.abs(o_np[ok] - e_np[ok]) <= 2.0**-40
        assert np.all(close), np.max(errors[~close])


@pytest.mark.parametrize(("backend", "dtype"), BACKEND_DTYPES, indirect=["backend"])
@pytest.mark.parametrize("case", list(CASES))
def test_values_agree_with_numpy_and_reference(backend, case, dtype):
    fn, make, ref_name = CASES[case]
    args_np = make(np.random.default_rng(7), dtype)
    expected = fn(*args_np)
    out = fn(*(backend.to(a) for a in args_np))
    _compare(backend, out, expected, dtype)
    if ref_name is not None:
        got, want = backend.back(_as_tuple(out)[0]), np.asarray(_as_tuple(expected)[0])
        flushed = None
        if backend.name == "jax":
            flushed = (got == 0) & (np.abs(want.astype(np.float64)) < 2.0**-126)
        _check_reference(ref_name, got, args_np, flushed)


def test_one_minus_cos_ratio_array_api_path(backend):
    """The array-API formula (numdl.stable.one_minus_cos_ratio does not dispatch to it yet)
    within a few ULP of the exact value; the limit 1/2 at 0."""
    with np.errstate(all="ignore"):
        for dtype in backend.floats:
            x = np.array([0.0, 1e-30, 1e-8, 1e-3, 0.5, -2.0, 10.0, 1e4], dtype=dtype)
            out = xp_one_minus_cos_ratio(backend.to(x))
            assert isinstance(out, backend.array_type) and out.dtype == backend.dtype(dtype)
            got = backend.back(out).astype(np.float64)
            assert got[0] == 0.5
            with_mp = np.array([float(v) for v in _exact_ocr(x.astype(np.float64))])
            errors = np.asarray(ulp_error(backend.back(out), with_mp), dtype=np.float64)
            assert np.all(errors <= 2.0), (dtype, errors)


def _exact_ocr(x):
    import mpmath

    with mpmath.workprec(400):  # 1 - cos(1e-30) is 5e-61: 200 bits would cancel to 0
        return [mpmath.mpf(0.5) if v == 0 else (1 - mpmath.cos(mpmath.mpf(v))) / mpmath.mpf(v) ** 2
                for v in x]


def test_one_minus_cos_ratio_dispatches_tensors(backend):
    out = stable.one_minus_cos_ratio(backend.to(np.array([0.0, 1.0])))
    assert isinstance(out, backend.array_type)
    assert numdl.one_minus_cos_ratio is stable.one_minus_cos_ratio


# ---------------------------------------------------------------------------------------------
# Regressions: the empty reduced axis, and dtype promotion by the input's library
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape, axis", [((0,), None), ((3, 0), -1), ((0, 3), -1), ((2, 0, 3), 1)])
def test_empty_reduced_axis_indexerror_from_argmax(backend, shape, axis):
    """torch.argmax raised IndexError (JAX: ValueError) on an empty row; the NumPy path gives
    -inf (log of an empty sum), softmax and log_softmax an empty result."""
    x_np = np.zeros(shape)
    for fn in (lambda x: numdl.logsumexp(x, axis=axis),
               lambda x: numdl.logsumexp(x, axis=axis, b=x + 1, return_sign=True)[0],
               lambda x: numdl.softmax(x, axis=-1 if axis is None else axis),
               lambda x: numdl.log_softmax(x, axis=-1 if axis is None else axis)):
        expected = np.asarray(fn(x_np))
        out = fn(backend.to(x_np))
        assert isinstance(out, backend.array_type)
        got = backend.back(out)
        assert got.shape == expected.shape and got.dtype == expected.dtype
        assert np.array_equal(got, expected)


def _promotion_pairs(be):
    names = ["int64", "int32", "float16", "bfloat16", "float32", "float64"]
    if be.name == "strict":
        names = ["int64", "int32", "float32", "float64"]
    return [(a, b) for a in names for b in names]


def _library_result_type(be, a, b):
    """The library's own rule, with an integer result replaced by its default float dtype."""
    xa, xb = _zeros(be, a), _zeros(be, b)
    if be.name == "torch":
        dt = be.mod.result_type(xa, xb)
        return be.mod.get_default_dtype() if not dt.is_floating_point else dt
    try:
        dt = be.mod.result_type(xa.dtype, xb.dtype)
    except TypeError:
        return TypeError
    if be.mod.isdtype(dt, "integral"):
        return be.mod.float64 if be.name == "strict" else be.mod.asarray(1.0).dtype
    return dt


def _zeros(be, name):
    dtype = BF16 if name == "bfloat16" else np.dtype(name)
    return be.to(np.zeros(3, dtype=dtype))


def test_dtype_promotion_follows_each_library(backend):
    """logsumexp(x, b=) and logaddexp(x1, x2) promote as the input's library does (torch:
    int64 with float32 is float32; the NumPy path, as SciPy, float64)."""
    for a, b in _promotion_pairs(backend):
        want = _library_result_type(backend, a, b)
        for fn in (lambda x, y: numdl.logsumexp(x, b=y), numdl.logaddexp):
            if want is TypeError:
                with pytest.raises(TypeError, match="does not promote"):
                    fn(_zeros(backend, a), _zeros(backend, b))
                continue
            out = fn(_zeros(backend, a), _zeros(backend, b))
            assert out.dtype == want, (a, b, out.dtype, want)


def test_numpy_promotion_is_numpys():
    """The NumPy path: NumPy's rules as SciPy (integers are float64)."""
    for a, b, want in [(np.int64, np.float32, F64), (np.float16, np.float32, F32),
                       (np.int32, np.int64, F64), (np.float32, np.float32, F32)]:
        assert numdl.logsumexp(np.zeros(3, a), b=np.ones(3, b)).dtype == want
        assert numdl.logaddexp(np.zeros(3, a), np.ones(3, b)).dtype == want


def test_torch_promotion_int_x_float32_b_returned_float64():
    torch = pytest.importorskip("torch")
    out = numdl.logsumexp(torch.tensor([1, 2]), b=torch.tensor([1.0, 1.0]))
    assert out.dtype == torch.float32
    assert out.item() == pytest.approx(math.log(math.e + math.e**2), rel=2**-23)
    # Python numbers are weak, as in torch: they do not promote a float16 tensor
    assert numdl.logaddexp(torch.zeros(2, dtype=torch.float16), 0.5).dtype == torch.float16
    assert numdl.sigmoid(torch.tensor([0, 1])).dtype == torch.get_default_dtype()


# ---------------------------------------------------------------------------------------------
# Gradients
# ---------------------------------------------------------------------------------------------


def _sig(x):
    return scipy.special.expit(x)


def _like(v, arr, dtype=None):
    """`arr` as an array of `v`'s library (a target beside the differentiated input), in
    `v`'s dtype if `dtype` is true."""
    if type(v).__module__.startswith("torch"):
        import torch

        out = torch.from_numpy(np.array(arr))
        return out.to(v.dtype) if dtype else out
    if not isinstance(v, np.ndarray):
        import jax.numpy as jnp

        return jnp.asarray(arr, dtype=v.dtype if dtype else None)
    return arr.astype(v.dtype) if dtype else arr


# name: (function, input, analytic gradient of sum(cot * f) at the input x)
def _grad_cases(rng):
    x = rng.standard_normal((3, 5)) * 4
    x[0, 0] = 30.0
    e = np.concatenate([rng.standard_normal(8) * 5, [0.0, -30.0, 30.0]])
    t = np.array([1, 0, 4])
    y = (rng.uniform(size=e.shape) < 0.5).astype(np.float64)

    def p(x):
        return scipy.special.softmax(x, axis=-1)

    return {
        "logsumexp": (lambda v: numdl.logsumexp(v, axis=-1), x,
                      lambda x, c: c[:, None] * p(x)),
        "softmax": (numdl.softmax, x,
                    lambda x, c: p(x) * (c - np.sum(c * p(x), axis=-1, keepdims=True))),
        "log_softmax": (numdl.log_softmax, x,
                        lambda x, c: c - p(x) * np.sum(c, axis=-1, keepdims=True)),
        "sigmoid": (numdl.sigmoid, e, lambda x, c: c * _sig(x) * _sig(-x)),
        "log_sigmoid": (numdl.log_sigmoid, e, lambda x, c: c * _sig(-x)),
        "softplus": (numdl.softplus, e, lambda x, c: c * _sig(x)),
        "softplus-beta": (lambda v: numdl.softplus(v, beta=0.5), e,
                          lambda x, c: c * _sig(0.5 * x)),
        "log1mexp": (numdl.log1mexp, e[e != 0],
                     lambda x, c: c * np.sign(x) / np.expm1(np.abs(x))),
        "logaddexp": (lambda v: numdl.logaddexp(v, 0.5 * v), e,
                      lambda x, c: c * (_sig(0.5 * x) + 0.5 * _sig(-0.5 * x))),
        "cross_entropy": (lambda v: numdl.cross_entropy(v, _like(v, t), reduction="none"), x,
                          lambda x, c: c[:, None] * (p(x) - np.eye(5)[t])),
        "bce": (lambda v: numdl.binary_cross_entropy_with_logits(v, _like(v, y, dtype=True),
                                                                 reduction="none"), e,
                lambda x, c: c * (_sig(x) - y)),
    }


GRAD_NAMES = list(_grad_cases(np.random.default_rng(0)))


@pytest.mark.parametrize("name", GRAD_NAMES)
def test_jax_grad_matches_analytic(jax_x64, name):
    jax, jnp = jax_x64, pytest.importorskip("jax.numpy")
    rng = np.random.default_rng(3)
    fn, x, grad = _grad_cases(rng)[name]
    cot = rng.standard_normal(np.shape(fn(x)))
    g = jax.grad(lambda v: jnp.sum(jnp.asarray(cot) * fn(v)))(jnp.asarray(x))
    assert isinstance(g, jax.Array) and g.dtype == jnp.float64
    want = grad(x, cot)
    np.testing.assert_allclose(np.asarray(g), want, rtol=0,
                               atol=GRAD_RTOL[F64] * np.max(np.abs(want)))


def test_jax_grad_one_minus_cos_ratio_finite_differences(jax_x64):
    jax, jnp = jax_x64, pytest.importorskip("jax.numpy")
    x = np.array([1e-3, 0.5, -2.0, 7.0])
    g = jax.vmap(jax.grad(xp_one_minus_cos_ratio))(jnp.asarray(x))
    # central differences, h = 1e-5: truncation h^2 |f'''| / 6 and rounding eps / h, both < 1e-10
    h = 1e-5
    fd = (np.asarray(xp_one_minus_cos_ratio(jnp.asarray(x + h)))
          - np.asarray(xp_one_minus_cos_ratio(jnp.asarray(x - h)))) / (2 * h)
    np.testing.assert_allclose(np.asarray(g), fd, rtol=0, atol=1e-9)
    assert float(jax.grad(xp_one_minus_cos_ratio)(jnp.asarray(0.0))) == 0.0


_TORCH_OWN = {
    "logsumexp": lambda t, x: t.logsumexp(x, dim=-1),
    "softmax": lambda t, x: t.softmax(x, dim=-1),
    "log_softmax": lambda t, x: t.log_softmax(x, dim=-1),
    "sigmoid": lambda t, x: t.sigmoid(x),
    "log_sigmoid": lambda t, x: t.nn.functional.logsigmoid(x),
    "softplus": lambda t, x: t.nn.functional.softplus(x, threshold=1e9),
    "softplus-beta": lambda t, x: t.nn.functional.softplus(x, beta=0.5, threshold=1e9),
}


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ALL_FLOATS, ids=str)
@pytest.mark.parametrize("name", GRAD_NAMES)
def test_torch_grad_every_format(name, dtype):
    """Autograd through numdl in float16/bfloat16/float32/float64 against the analytic gradient
    at the (rounded) input, and against torch's own function's float64 gradient where torch has
    one: numdl's gradient is computed in float64 and rounded once to the input's format."""
    torch = pytest.importorskip("torch")
    be = _torch_backend()
    rng = np.random.default_rng(5)
    fn, x, grad = _grad_cases(rng)[name]
    x = x.astype(dtype)
    x64 = x.astype(np.float64)
    cot = rng.standard_normal(np.shape(fn(x64)))
    xt = be.to(x).requires_grad_(True)
    out = fn(xt)
    assert out.dtype == xt.dtype
    (out.double() * torch.from_numpy(cot)).sum().backward()
    assert xt.grad.dtype == xt.dtype
    want = grad(x64, cot)
    got = be.back(xt.grad).astype(np.float64)
    atol = GRAD_RTOL[dtype] * np.max(np.abs(want))
    np.testing.assert_allclose(got, want, rtol=0, atol=atol)
    if name in _TORCH_OWN:
        x_own = torch.from_numpy(x64.copy()).requires_grad_(True)
        (_TORCH_OWN[name](torch, x_own) * torch.from_numpy(cot)).sum().backward()
        np.testing.assert_allclose(got, x_own.grad.numpy(), rtol=0, atol=atol)


# ---------------------------------------------------------------------------------------------
# jax.jit, jax.vmap and torch.compile
# ---------------------------------------------------------------------------------------------

JIT_CASES = [c for c in CASES if not c.startswith("cross_entropy") or "probabilities" in c]


@pytest.mark.parametrize("dtype", [F64, F32, BF16], ids=str)
@pytest.mark.parametrize("case", JIT_CASES)
def test_jax_jit_agrees_with_numpy(jax_x64, case, dtype):
    jax, be = jax_x64, _jax_backend()
    fn, make, _ = CASES[case]
    args_np = make(np.random.default_rng(7), dtype)
    _compare(be, jax.jit(fn)(*(be.to(a) for a in args_np)), fn(*args_np), dtype)


def test_jax_jit_cross_entropy_class_targets(jax_x64):
    jax, be = jax_x64, _jax_backend()
    x, t = np.random.default_rng(1).standard_normal((4, 5)), np.array([0, 1, 2, 3])
    out = jax.jit(numdl.cross_entropy)(be.to(x), be.to(t))
    _compare(be, out, numdl.cross_entropy(x, t), F64)


def test_jax_jit_certifies_rows(jax_x64):
    """Under jit the certification runs in a host callback: log-probability rows (whose
    logsumexp is near 0, where float64 cancels) are certified and correctly rounded."""
    jax, be = jax_x64, _jax_backend()
    rng = np.random.default_rng(11)
    x = np.log(scipy.special.softmax(rng.standard_normal((8, 50)) * 3, axis=-1)).astype(F32)
    certify.reset_counts()
    out = jax.jit(lambda v: numdl.logsumexp(v, axis=-1))(be.to(x))
    assert certify.counts()["rows"] > 0
    exact = reference.logsumexp(x, axis=-1)
    assert np.array_equal(np.asarray(out), exact)
    batched = jax.vmap(lambda v: numdl.logsumexp(v, axis=-1))(be.to(x.reshape(2, 4, 50)))
    assert np.array_equal(np.asarray(batched).reshape(-1), exact)
    g = jax.grad(lambda v: jax.numpy.sum(numdl.logsumexp(v, axis=-1)))(be.to(x))
    np.testing.assert_allclose(np.asarray(g), scipy.special.softmax(x.astype(F64), axis=-1),
                               rtol=0, atol=GRAD_RTOL[F32])


def test_jax_without_x64_skips_certification(jax_x32):
    """Without jax_enable_x64 the working precision is float32: the result is float32 within
    float32's own rounding (documented in numdl._engine.xp), and nothing is certified."""
    jax = jax_x32
    x = np.random.default_rng(2).standard_normal((4, 30)).astype(F32)
    certify.reset_counts()
    out = numdl.logsumexp(jax.numpy.asarray(x), axis=-1)
    assert out.dtype == jax.numpy.float32 and certify.counts()["rows"] == 0
    # float32 sums of 30 terms: a few ULP of the result
    np.testing.assert_allclose(np.asarray(out), reference.logsumexp(x, axis=-1), rtol=2**-19)


@pytest.mark.torch
@pytest.mark.slow
def test_torch_compile_tiny_model_cross_entropy():
    """torch.compile traces numdl with graph breaks (the label range check and the loss count
    need concrete values); the compiled step gives the eager loss and gradients."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3).double()
    x, t = torch.randn(8, 4, dtype=torch.float64), torch.randint(0, 3, (8,))

    def step(x, t):
        return numdl.cross_entropy(model(x), t)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dynamo's notes on each graph break
        loss = torch.compile(step)(x, t)
    loss.backward()
    g_compiled = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    eager = torch.nn.functional.cross_entropy(model(x), t)
    eager.backward()
    assert abs(loss.item() - eager.item()) <= 2.0**-48 * abs(eager.item())
    for gc, p in zip(g_compiled, model.parameters()):
        torch.testing.assert_close(gc, p.grad, rtol=2.0**-44, atol=2.0**-48)


@pytest.mark.parametrize(("backend", "dtype"),
                         [p for p in BACKEND_DTYPES if p.values[1] != F64], indirect=["backend"])
def test_certified_special_rows_inf_minus_inf_nan(backend, dtype):
    """The certified correction is added as a difference that is 0 off the certified rows: the
    target minus y gave inf - inf = NaN on a row of +inf (or -inf) beside a certified row."""
    x = np.array([[np.inf, 1, 2], [np.nan, 1, 2], [-np.inf] * 3,
                  np.log([0.5, 0.25, 0.25])], dtype=dtype)
    out = backend.back(numdl.logsumexp(backend.to(x), axis=1)).astype(np.float64)
    np.testing.assert_array_equal(out, np.asarray(numdl.logsumexp(x, axis=1), dtype=np.float64))
    assert out[0] == np.inf and np.isnan(out[1]) and out[2] == -np.inf
    x1, x2 = (np.array(v, dtype=dtype) for v in ([np.inf, -np.inf, 0.0], [1.0, -np.inf, 0.0]))
    got = backend.back(numdl.logaddexp(backend.to(x1), backend.to(x2))).astype(np.float64)
    np.testing.assert_array_equal(got, np.asarray(numdl.logaddexp(x1, x2), dtype=np.float64))
    assert got[0] == np.inf and got[1] == -np.inf
