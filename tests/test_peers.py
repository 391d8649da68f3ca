"""The peers' own test cases, run against numdl: SciPy's tests of logsumexp, softmax and
log_softmax (scipy/special/tests/test_logsumexp.py, shipped with SciPy) with numdl's functions
put in place of SciPy's (tests/peers/numdl_as_scipy.py).  A user porting SciPy code gets SciPy's
answers, dtypes and shapes (numdl's softmax reduces the last axis by default, as PyTorch and JAX
do; the plugin passes SciPy's default, axis=None, explicitly)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import scipy

PEERS = Path(__file__).parent / "peers"


def test_scipys_logsumexp_and_softmax_tests_pass_on_numdl():
    suite = Path(scipy.__file__).parent / "special" / "tests" / "test_logsumexp.py"
    assert suite.exists(), suite
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PEERS), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(suite), "-q", "-p", "no:cacheprovider",
         "-p", "numdl_as_scipy", "-W", "ignore"],
        capture_output=True, text=True, timeout=300, env=env, cwd=PEERS,
    )
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "numdl_as_scipy: scipy.special.tests.test_logsumexp runs numdl.stable" in proc.stdout
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    assert passed >= 300 and "failed" not in summary, summary


# -- PyTorch's OpInfo sample inputs ----------------------------------------------------------------
# torch.testing's OpInfo database holds, for each operator, the sample inputs PyTorch tests it on
# (shapes with empty and K-dimensional axes, dims, keepdim, dtype=, weight=, reduction, ignore_index,
# label smoothing, ...).  Each sample runs through numdl with torch tensors and is compared with
# torch's own result: float64/float32 directly, float16/bfloat16 against torch computing in float64
# and rounding once (torch's half-precision kernels are less accurate than numdl's).

import numdl  # noqa: E402
from numdl import stable  # noqa: E402


def _softmax_like(fn):
    def call(x, dim=None, dtype=None, **kwargs):
        return fn(x, axis=-1 if dim is None else dim, **({} if dtype is None else {"dtype": dtype}))
    return call


def _logsumexp(x, dim=None, keepdim=False):
    return stable.logsumexp(x, axis=tuple(dim) if isinstance(dim, list | tuple) else dim,
                            keepdims=keepdim)


def _softplus(x, beta=1.0, threshold=20.0):
    return stable.softplus(x, beta=beta, threshold=threshold)


def _cross_entropy(x, target, weight=None, reduction="mean", ignore_index=None,
                   label_smoothing=0.0):
    extra = {} if weight is None else {"weight": weight}
    if ignore_index is not None:
        extra["ignore_index"] = ignore_index
    # torch's class axis is 1 for (N, C, d1, ...) input, numdl's is an argument
    return numdl.cross_entropy(x, target, axis=1 if x.ndim > 1 else 0, reduction=reduction,
                               label_smoothing=label_smoothing, **extra)


def _bce(x, target, weight=None, pos_weight=None, reduction="mean"):
    extra = {k: v for k, v in (("weight", weight), ("pos_weight", pos_weight)) if v is not None}
    return numdl.binary_cross_entropy_with_logits(x, target, reduction=reduction, **extra)


OPINFO = {
    "softmax": _softmax_like(stable.softmax),
    "log_softmax": _softmax_like(stable.log_softmax),
    "logsumexp": _logsumexp,
    "logaddexp": stable.logaddexp,
    "sigmoid": stable.sigmoid,
    "nn.functional.logsigmoid": stable.log_sigmoid,
    "nn.functional.softplus": _softplus,
    "nn.functional.cross_entropy": _cross_entropy,
    "nn.functional.binary_cross_entropy_with_logits": _bce,
}


def _opinfos(name):
    """The OpInfo entries of an operator (softmax has a variant with dtype=, for instance)."""
    pytest.importorskip("expecttest")  # torch.testing._internal needs it (the test extra has it)
    from torch.testing._internal.common_methods_invocations import op_db

    ops = [o for o in op_db if o.name == name]
    assert ops, name
    return ops


@pytest.mark.parametrize("dtype_name", ["float64", "float32", "float16", "bfloat16"])
@pytest.mark.parametrize("name", sorted(OPINFO))
def test_torch_opinfo_samples(name, dtype_name):
    torch = pytest.importorskip("torch")
    dtype = getattr(torch, dtype_name)
    fn = OPINFO[name]
    tol = {"float64": 1e-12, "float32": 1e-5, "float16": 1e-3, "bfloat16": 8e-3}[dtype_name]
    samples = [(op, s) for op in _opinfos(name) for s in op.sample_inputs("cpu", dtype)]
    assert samples
    for op, s in samples:
        want = op(s.input, *s.args, **s.kwargs)
        if dtype_name in ("float16", "bfloat16"):
            def up(v):
                return v.double() if torch.is_tensor(v) and v.is_floating_point() else v
            ref = op(up(s.input), *map(up, s.args), **{k: up(v) for k, v in s.kwargs.items()})
            want = ref.to(want.dtype)
        got = fn(s.input, *s.args, **s.kwargs)
        where = f"{name} {dtype_name} input {tuple(s.input.shape)} args {s.args} {s.kwargs}"
        assert got.dtype == want.dtype and got.shape == want.shape, where
        torch.testing.assert_close(got.double(), want.double(), rtol=tol, atol=tol,
                                   equal_nan=True, msg=lambda m, w=where: f"{w}: {m}")
