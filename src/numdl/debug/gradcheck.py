"""Check a gradient against finite differences, with tolerances from the rounding actually seen.

``torch.autograd.gradcheck`` compares an analytic Jacobian with central differences at a fixed
step (``eps=1e-6``) under a fixed ``atol=1e-5, rtol=1e-3``.  An analytic gradient that is 0.1%
too large passes: ``|1.001 g - g| = 1e-3 |g| <= 1e-5 + 1e-3 |g|`` always.  The tolerance cannot
be tightened blindly, because the finite difference's own error depends on the step, the dtype
and the function.  :func:`gradcheck` estimates that error instead of assuming it:

1. **Scalarize.**  A function with array output is contracted with a fixed random cotangent,
   ``L(x) = sum(v * f(x))``, so one analytic backward (a vector-Jacobian product) is checked
   against derivatives of one scalar function.
2. **Noise.**  The rounding noise ``sigma`` of ``L`` is measured, not guessed: ``L`` is
   evaluated at 8 points ``x + k delta u`` along a random direction, and the k-th differences
   (k = 3..6), which cancel the smooth part, give ``sigma_k = sqrt(gamma_k mean(Delta^k L)^2)``
   with ``gamma_k = (k!)^2 / (2k)!`` (Moré & Wild's ECnoise).  The floor is ``eps * sum|v f|``.
3. **Steps.**  For each checked element, central differences ``D`` at ``4h, 2h, h`` with
   ``h = 2 eps^(1/3) * s_i``, ``s_i = max(|x_i|, rms(x))`` (per dtype and per the scale of the
   parameter; ``eps^(1/3)`` balances truncation and rounding), each step made exactly
   representable.  Richardson extrapolation ``R = (4 D(h) - D(2h)) / 3`` removes the ``h^2``
   term; ``|R(h, 2h) - R(2h, 4h)|`` estimates what is left, and ``3 sigma / (2h)`` the rounding
   in ``R``.  Starting above the balancing step keeps the Taylor test (below) out of the noise.
4. **Tolerance** = 4 x (that truncation estimate + that rounding estimate) + the rounding of the
   analytic gradient itself (``16 eps`` times the larger of ``|g_i|`` and the RMS of the
   parameter's gradient).  No fixed rtol: in float64 it is ~1e-9 relative, in float32 ~1e-4.
5. **Taylor test.**  The errors ``|D(h_k) - g_i|`` must shrink like ``h^2`` -- by 4x per halving --
   down to the noise: a correct gradient's error is truncation, a wrong one's is a constant
   ``|g_true - g_i|``.  The worst element's errors and observed orders are in the report, so a
   failure says whether the gradient is wrong (order ~0) or the function is not smooth at this
   step (erratic orders; reported as *inconclusive*, not as a failure).
6. **Complex step** (``method="complex"``, or ``"auto"`` when `f` accepts complex input and
   returns complex output): ``Im L(x + i h e_i) / h`` with a tiny ``h`` has no cancellation and is
   accurate to a few ULPs.  ``"auto"`` cross-checks it against a central difference on one element
   first, since a function with ``abs``, ``maximum`` or comparisons runs on complex input but is
   not analytic; on disagreement it falls back to central differences.

Elements: all of them when there are at most `max_elements`, else a sample per parameter (its
largest-gradient element and random ones, from `rng`), plus `n_directions` random directions over
all parameters at once, which cover every element in aggregate.

References
----------
.. [1] J. J. Moré and S. M. Wild, "Estimating computational noise", *SIAM J. Sci. Comput.* 33(3),
       2011.
.. [2] P. E. Farrell et al., "Automated derivation of the adjoint of high-level transient finite
       element programs" (the Taylor test), *SIAM J. Sci. Comput.* 35(4), 2013.
.. [3] J. R. R. A. Martins, P. Sturdza and J. J. Alonso, "The complex-step derivative
       approximation", *ACM TOMS* 29(3), 2003.
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["METHODS", "ElementCheck", "GradcheckResult", "gradcheck"]

METHODS = ("auto", "central", "complex")
_SAFETY = 4.0  # error estimates are estimates: a factor for their own error
_GRAD_ROUND_ULPS = 16.0  # rounding allowed in the analytic gradient, in units of eps
_NOISE_POINTS = 8
_COMPLEX_STEP = 1e-20  # relative; no cancellation, so as small as the exponent range allows


@dataclass(frozen=True)
class ElementCheck:
    """One directional derivative checked: an element of a parameter, or a random direction.

    Attributes
    ----------
    parameter : str
        ``"x"`` for NumPy; ``"input 0"`` or a parameter name (``"0.weight"``) for PyTorch;
        ``"direction k"`` for a random direction over all parameters.
    index : tuple of int
        The element (``()`` for a direction or a scalar).
    analytic, numeric : float
        The gradient under test and the finite-difference (or complex-step) estimate.
    error : float
        ``|analytic - numeric|``.
    tolerance : float
        What `error` may be: estimated truncation + rounding of `numeric`, and rounding of
        `analytic` (see the module docstring).
    uncertainty : float
        The numerical part of `tolerance`: the smallest error this check can detect.
    status : {"ok", "mismatch", "inconclusive"}
        ``"inconclusive"`` when the numerical estimate is too uncertain to judge (uncertainty
        above 5% of the derivative: a kink or a discontinuity within the step).
    steps : tuple of float
        Steps taken (``4h, 2h, h``; one tiny step for the complex step).
    step_errors : tuple of float
        ``|D(h) - analytic|`` at each step: the Taylor test.
    """

    parameter: str
    index: tuple[int, ...]
    analytic: float
    numeric: float
    error: float
    tolerance: float
    uncertainty: float
    status: str
    steps: tuple[float, ...]
    step_errors: tuple[float, ...]

    @property
    def ratio(self) -> float:
        """``error / tolerance``: above 1 fails."""
        return self.error / self.tolerance if self.tolerance > 0 else (
            0.0 if self.error == 0 else math.inf)

    @property
    def orders(self) -> tuple[float, ...]:
        """Observed orders ``log2(e(h) / e(h/2))``: ~2 for a correct gradient above the noise,
        ~0 for a wrong one."""
        e = self.step_errors
        out = []
        for a, b in itertools.pairwise(e):
            out.append(math.log2(a / b) if a > 0 and b > 0 else math.nan)
        return tuple(out)

    @property
    def where(self) -> str:
        return f"{self.parameter}[{', '.join(str(i) for i in self.index)}]" if self.index else (
            self.parameter)


@dataclass(frozen=True)
class GradcheckResult:
    """The outcome of :func:`gradcheck`.

    Attributes
    ----------
    passed : bool
        No checked element or direction is a mismatch.
    method : {"central", "complex"}
        The numerical derivative used.
    dtype : str
        Dtype of the checked values.
    checks : tuple of ElementCheck
        Every element and direction checked, in order.
    worst : ElementCheck or None
        The check with the largest ``error / tolerance``.
    n_checked, n_mismatched, n_inconclusive : int
    noise : float
        Estimated rounding noise (standard deviation) of the scalarized function.
    resolution : float
        Median over the conclusive checks of ``uncertainty / |numeric|``: the relative gradient
        error this run could detect (~1e-9 in float64, ~1e-4 in float32).
    evaluations : int
        Calls of the function.
    sampled : bool
        Whether elements were sampled (more than `max_elements`).
    message : str
        One line.
    report : str
        Readable text: the verdict, the worst parameter and element, its Taylor test.
    """

    passed: bool
    method: str
    dtype: str
    checks: tuple[ElementCheck, ...]
    worst: ElementCheck | None
    n_checked: int
    n_mismatched: int
    n_inconclusive: int
    noise: float
    resolution: float
    evaluations: int
    sampled: bool
    message: str
    report: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.report


# -- the problem: targets, a scalar loss, perturbations ------------------------------------------


class _Problem(ABC):
    """A scalar ``L`` of a list of targets (arrays), its analytic gradient, and perturbations."""

    names: list[str]
    shapes: list[tuple[int, ...]]
    dtype: np.dtype
    analytic: list[np.ndarray]  # float64, one per target
    values: list[np.ndarray]  # float64 copies of the targets
    scale_abs: float  # sum |v * f(x)|: the floor of the rounding noise
    evaluations: int = 0

    @abstractmethod
    def loss(self, deltas: dict[tuple[int, int], float]) -> tuple[float, dict]:
        """L at the targets moved by `deltas` {(target, flat index): step}; returns the steps
        actually taken (after rounding into the dtype)."""

    @abstractmethod
    def loss_complex(self, k: int, i: int, h: float) -> float:
        """Im L(x + i h e_i) / h, or raise TypeError/ValueError if f is not complex-capable."""


def _cotangent(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    if shape == ():
        return np.array(1.0)
    return rng.standard_normal(shape)


class _NumpyProblem(_Problem):
    def __init__(self, f: Callable, x: Any, grad: Any, rng: np.random.Generator) -> None:
        arr = np.array(x)
        if arr.dtype.kind in "biu":
            arr = arr.astype(np.float64)
        if arr.dtype not in (np.float32, np.float64):
            raise TypeError(f"x must be a float32 or float64 array, got dtype {arr.dtype}")
        if arr.size == 0:
            raise ValueError("x must not be empty")
        if not np.all(np.isfinite(arr)):
            raise ValueError("x must be finite")
        self.f = f
        self.x = arr
        self.dtype = arr.dtype
        self.names = ["x"]
        self.shapes = [arr.shape]
        self.values = [arr.astype(np.float64)]
        out = np.asarray(f(arr.copy()))
        self.evaluations = 1
        self.v = _cotangent(out.shape, rng)
        self.scale_abs = float(np.sum(np.abs(self.v * out.astype(np.float64))))
        if grad is None:
            raise ValueError("grad is required for a NumPy function: the gradient to check, as "
                             "a callable grad(x) or an array")
        g = np.asarray(grad(arr.copy()) if callable(grad) else grad, dtype=np.float64)
        if out.shape == ():
            if g.size != arr.size:
                raise ValueError(f"grad must have the shape of x, {arr.shape}, got {g.shape}")
            self.analytic = [g.reshape(arr.shape)]
        else:
            if g.shape != out.shape + arr.shape:
                raise ValueError(
                    f"f returns shape {out.shape}, so grad must return its Jacobian of shape "
                    f"{out.shape + arr.shape}, got {g.shape}")
            self.analytic = [np.tensordot(self.v, g, axes=out.ndim)]

    def loss(self, deltas: dict[tuple[int, int], float]) -> tuple[float, dict]:
        x = self.x.copy()
        flat = x.reshape(-1)
        taken = {}
        for (_, i), h in deltas.items():
            old = flat[i]
            flat[i] = old + self.dtype.type(h)
            taken[(0, i)] = float(flat[i]) - float(old)
        self.evaluations += 1
        out = np.asarray(self.f(x), dtype=np.float64)
        return float(np.sum(self.v * out)), taken

    def loss_complex(self, k: int, i: int, h: float) -> float:
        ctype = np.complex64 if self.dtype == np.float32 else np.complex128
        x = self.x.astype(ctype)
        x.reshape(-1)[i] += 1j * h
        self.evaluations += 1
        with np.errstate(all="ignore"):
            out = np.asarray(self.f(x))
        if not np.iscomplexobj(out):
            raise ValueError("f returned a real result for complex input")
        return float(np.sum(self.v * out.imag.astype(np.float64))) / h


class _TorchProblem(_Problem):
    def __init__(self, f: Any, x: Any, grad: Any, rng: np.random.Generator) -> None:
        import torch

        self.torch = torch
        self.f = f
        args = list(x) if isinstance(x, tuple | list) else [x]
        self.args = [a.detach().clone() if isinstance(a, torch.Tensor) else a for a in args]
        is_module = isinstance(f, torch.nn.Module)
        self.targets: list[Any] = []
        self.names = []
        floating = [k for k, a in enumerate(args) if isinstance(a, torch.Tensor)
                    and a.is_floating_point()]
        wanted = [k for k in floating if args[k].requires_grad]
        if not is_module and not wanted:
            wanted = floating
        self.input_slots = wanted
        for k in wanted:
            self.targets.append(self.args[k])
            self.names.append(f"input {k}")
        self.params: list[Any] = []
        if is_module:
            for name, p in f.named_parameters():
                if p.requires_grad:
                    self.targets.append(p)
                    self.params.append(p)
                    self.names.append(name)
        if not self.targets:
            raise ValueError("nothing to check: no floating-point input and no parameter that "
                             "requires grad")
        dtypes = {t.dtype for t in self.targets}
        if len(dtypes) > 1:
            raise TypeError(f"all checked tensors must share a dtype, got {sorted(map(str, dtypes))}")
        tdtype = dtypes.pop()
        if tdtype not in (torch.float32, torch.float64):
            raise TypeError(f"gradcheck needs float32 or float64 tensors, got {tdtype}; check "
                            f"half-precision code by running it in float32")
        self.dtype = np.dtype("float32" if tdtype == torch.float32 else "float64")
        self.shapes = [tuple(t.shape) for t in self.targets]
        self.values = [t.detach().double().cpu().numpy().copy() for t in self.targets]
        for v in self.values:
            if not np.all(np.isfinite(v)):
                raise ValueError("the inputs and parameters must be finite")
        # Cotangents, in the output's dtype so the backward and the differences see equal values.
        with torch.no_grad():
            out = self._call(self.args)
        self.evaluations = 1
        outs = self._outputs(out)
        self.v = [torch.as_tensor(_cotangent(tuple(o.shape), rng), dtype=o.dtype,
                                  device=o.device) for o in outs]
        self.scale_abs = float(sum((o.double() * v.double()).abs().sum() for o, v in
                                   zip(outs, self.v)))
        # Analytic gradient of L = sum(v * f).
        if grad is not None:
            g = grad(*self.args) if callable(grad) else grad
            g = list(g) if isinstance(g, tuple | list) else [g]
            if len(g) != len(self.targets):
                raise ValueError(f"grad must give {len(self.targets)} gradient(s) (for "
                                 f"{self.names}), got {len(g)}")
            self.analytic = [np.asarray(torch.as_tensor(t).detach().double().cpu(),
                                        dtype=np.float64).reshape(s)
                             for t, s in zip(g, self.shapes)]
        else:
            run_args = list(self.args)
            leaves = []
            for k in self.input_slots:
                run_args[k] = self.args[k].detach().clone().requires_grad_(True)
                leaves.append(run_args[k])
            leaves += self.params
            with torch.enable_grad():
                outs = self._outputs(self._call(run_args))
                total = sum((o * v).sum() for o, v in zip(outs, self.v))
                grads = torch.autograd.grad(total, leaves, allow_unused=True)
            self.analytic = [np.zeros(s) if g is None else g.detach().double().cpu().numpy()
                             for g, s in zip(grads, self.shapes)]

    def _call(self, args: list[Any]) -> Any:
        return self.f(*args)

    def _outputs(self, out: Any) -> list[Any]:
        torch = self.torch
        outs = [out] if isinstance(out, torch.Tensor) else [o for o in out if isinstance(
            o, torch.Tensor) and (o.is_floating_point() or o.is_complex())]
        if not outs:
            raise TypeError("f must return a tensor or a tuple of tensors")
        return outs

    def loss(self, deltas: dict[tuple[int, int], float]) -> tuple[float, dict]:
        torch = self.torch
        taken = {}
        saved = []
        with torch.no_grad():
            for (k, i), h in deltas.items():
                flat = self.targets[k].view(-1)
                old = flat[i].clone()
                saved.append((flat, i, old))
                flat[i] = old + h
                taken[(k, i)] = float(flat[i]) - float(old)
            try:
                outs = self._outputs(self._call(self.args))
                value = float(sum((o.double() * v.double()).sum() for o, v in zip(outs, self.v)))
            finally:
                for flat, i, old in reversed(saved):
                    flat[i] = old
        self.evaluations += 1
        return value, taken

    def loss_complex(self, k: int, i: int, h: float) -> float:
        torch = self.torch
        if isinstance(self.f, torch.nn.Module):
            raise TypeError("the complex step is not used for modules (real parameters)")
        ctype = torch.complex64 if self.dtype == np.float32 else torch.complex128
        args = list(self.args)
        slot = self.input_slots[k]
        xc = args[slot].detach().to(ctype).clone()
        xc.view(-1)[i] += 1j * h
        args[slot] = xc
        self.evaluations += 1
        with torch.no_grad():
            outs = self._outputs(self._call(args))
        if not all(o.is_complex() for o in outs):
            raise ValueError("f returned a real result for complex input")
        return float(sum((o.imag.double() * v.double()).sum() for o, v in zip(outs, self.v))) / h


# -- the numerical side ------------------------------------------------------------------------


def _noise(problem: _Problem, rng: np.random.Generator, steps: list[np.ndarray]) -> float:
    """Rounding noise of L by high-order differences along a random direction (ECnoise)."""
    eps = float(np.finfo(problem.dtype).eps)
    u = [rng.choice([-1.0, 1.0], size=s) for s in problem.shapes]
    delta = math.sqrt(eps) / (2 * eps ** (1 / 3))  # in units of the per-element central step
    values = []
    for k in range(_NOISE_POINTS):
        deltas = {}
        for t, (uu, hs) in enumerate(zip(u, steps)):
            for i, (a, h) in enumerate(zip(uu.reshape(-1), hs.reshape(-1))):
                deltas[(t, i)] = k * delta * a * h
        values.append(problem.loss(deltas)[0])
    f = np.array(values)
    sigmas = []
    for k in range(3, 7):
        d = np.diff(f, n=k)
        gamma = math.factorial(k) ** 2 / math.factorial(2 * k)
        sigmas.append(math.sqrt(gamma * float(np.mean(d * d))))
    floor = eps * problem.scale_abs
    return max(float(np.median(sigmas)), floor)


def _steps(problem: _Problem) -> list[np.ndarray]:
    """Per-element central steps ``2 eps^(1/3) max(|x_i|, rms(x))``."""
    eps = float(np.finfo(problem.dtype).eps)
    out = []
    for v in problem.values:
        rms = float(np.sqrt(np.mean(v * v)))
        s = np.maximum(np.abs(v), rms if rms > 0 else 1.0)
        out.append(2 * eps ** (1 / 3) * s)
    return out


def _central(problem: _Problem, deltas_unit: dict[tuple[int, int], float], h: float) -> float:
    """(L(x + h u) - L(x - h u)) / (h_plus + h_minus) with the steps actually taken."""
    lp, tp = problem.loss({key: h * a for key, a in deltas_unit.items()})
    lm, tm = problem.loss({key: -h * a for key, a in deltas_unit.items()})
    # For one element the denominators are the exact steps; for a direction, the nominal ones.
    if len(deltas_unit) == 1:
        (key,) = deltas_unit
        denom = tp[key] - tm[key]
    else:
        denom = 2 * h
    return (lp - lm) / denom


def _check(problem: _Problem, name: str, index: tuple[int, ...], unit: dict, analytic: float,
           gscale: float, sigma: float, h0: float, eps: float,
           method: str) -> ElementCheck:
    """Check one directional derivative; `unit` maps (target, flat index) to the direction's
    component times the element's step scale, so that the step along it is ``h0 * unit``."""
    grad_round = _GRAD_ROUND_ULPS * eps * max(abs(analytic), gscale)
    if method == "complex":
        (key, a), = unit.items()
        hc = _COMPLEX_STEP * a
        numeric = problem.loss_complex(key[0], key[1], hc)
        uncertainty = _SAFETY * 4 * eps * max(abs(numeric), gscale)
        err = abs(analytic - numeric)
        tol = uncertainty + grad_round
        status = "ok" if err <= tol else "mismatch"
        return ElementCheck(name, index, analytic, numeric, err, tol, uncertainty, status,
                            (hc,), (err,))
    hs = (4 * h0, 2 * h0, h0)
    d = [_central(problem, unit, h) for h in hs]
    r01 = (4 * d[1] - d[0]) / 3
    r12 = (4 * d[2] - d[1]) / 3
    numeric = r12
    # sigma / h per difference; R = (4 D(h) - D(2h)) / 3 has ~3 sigma / (2h).
    # One element: D estimates g_i and its step is h * s_i.  A direction: D estimates the
    # derivative along `unit` itself, with step h.
    norm = abs(next(iter(unit.values()))) if len(unit) == 1 else 1.0
    rounding = 3 * sigma / (hs[1] * norm)
    truncation = abs(r12 - r01)
    uncertainty = _SAFETY * (truncation + rounding)
    tol = uncertainty + grad_round
    err = abs(analytic - numeric)
    if err <= tol:
        status = "ok"
    else:
        status = "mismatch"
    if uncertainty > 0.05 * max(abs(numeric), abs(analytic), 1e-3 * gscale) and status == "ok":
        status = "inconclusive"
    if not all(map(math.isfinite, d)):
        status = "inconclusive"
    step_errors = tuple(abs(x - analytic) for x in d)
    return ElementCheck(name, index, analytic, numeric, err, tol, uncertainty, status,
                        tuple(h * norm for h in hs), step_errors)


def _select(problem: _Problem, max_elements: int, rng: np.random.Generator
            ) -> tuple[list[tuple[int, int]], bool]:
    sizes = [int(np.prod(s)) for s in problem.shapes]
    total = sum(sizes)
    if total <= max_elements:
        return [(k, i) for k, n in enumerate(sizes) for i in range(n)], False
    chosen = []
    per = max(2, max_elements // len(sizes))
    for k, n in enumerate(sizes):
        a = np.abs(problem.analytic[k].reshape(-1))
        picks = {int(np.argmax(a))}
        if n > 1:
            extra = rng.choice(n, size=min(n, per), replace=False)
            for i in extra.tolist():
                if len(picks) >= min(n, per):
                    break
                picks.add(int(i))
        chosen += [(k, i) for i in sorted(picks)]
    return chosen, True


def _fmt(x: float) -> str:
    return f"{x:.6g}" if x != 0 else "0"


def _report(res: dict[str, Any], checks: list[ElementCheck]) -> str:
    verdict = "PASSED" if res["passed"] else "FAILED"
    lines = [
        f"gradcheck {verdict}: {res['n_mismatched']} of {res['n_checked']} checks mismatch "
        f"({res['n_inconclusive']} inconclusive); method {res['method']}, {res['dtype']}"
        + (", elements sampled" if res["sampled"] else ""),
        f"  noise of the function ~{res['noise']:.3g}; smallest detectable relative error "
        f"~{res['resolution']:.2g}; {res['evaluations']} evaluations",
    ]
    worst = res["worst"]
    if worst is not None:
        rel = worst.error / abs(worst.numeric) if worst.numeric else math.inf
        lines.append(
            f"  worst: {worst.where} (parameter {worst.parameter!r}, element {worst.index}): "
            f"analytic {_fmt(worst.analytic)}, numeric {_fmt(worst.numeric)}, error "
            f"{worst.error:.3g} ({rel:.3g} relative) vs tolerance {worst.tolerance:.3g} "
            f"-> {worst.status}")
        if len(worst.step_errors) > 1:
            errs = ", ".join(f"{e:.3g}" for e in worst.step_errors)
            orders = ", ".join(f"{o:.2f}" for o in worst.orders)
            shrink = [o for o in worst.orders if math.isfinite(o)]
            if worst.status == "mismatch" and shrink and max(shrink) < 1.0:
                why = ("the error does not shrink with the step: the analytic gradient is "
                       "wrong, not the finite difference")
            elif shrink and min(shrink) > 1.5:
                why = "shrinks like h^2: truncation error of the difference, as it should"
            elif max(worst.step_errors[1:]) <= worst.uncertainty:
                why = "down at the rounding level of the differences"
            else:
                why = "erratic: rounding noise, or a kink within the step"
            lines.append(f"  Taylor test at h = {', '.join(f'{h:.3g}' for h in worst.steps)}: "
                         f"|D(h) - analytic| = {errs}; orders {orders} ({why})")
    bad = [c for c in checks if c.status == "mismatch"]
    if len(bad) > 1:
        shown = sorted(bad, key=lambda c: -c.ratio)[:5]
        lines.append("  mismatches: " + "; ".join(
            f"{c.where}: {_fmt(c.analytic)} vs {_fmt(c.numeric)}" for c in shown)
            + (" ..." if len(bad) > 5 else ""))
    return "\n".join(lines)


def gradcheck(f: Any, x: Any, *, grad: Any = None, method: str = "auto",
              max_elements: int = 64, n_directions: int = 2,
              rng: np.random.Generator | None = None) -> GradcheckResult:
    """Check a gradient against finite differences (or the complex step).

    Parameters
    ----------
    f : callable or torch.nn.Module
        NumPy: ``f(x) -> scalar or array``.  PyTorch: ``f(*inputs) -> tensor or tuple of
        tensors``; a module's parameters that require grad are checked too.  Array output is
        contracted with a fixed random cotangent (see the module docstring).
    x : array_like, torch.Tensor or tuple
        The point.  NumPy: a float32/float64 array.  PyTorch: a tensor or a tuple of inputs;
        of a plain function, the floating inputs that require grad are checked (all floating
        inputs if none does); of a module, the inputs that require grad and the parameters.
    grad : callable or array, optional
        The gradient under test.  Required for NumPy: ``grad(x)`` with the shape of `x` for a
        scalar `f`, or the Jacobian (``f(x).shape + x.shape``) for array output.  PyTorch:
        default None, autograd's gradient; or a callable ``grad(*inputs)`` returning one tensor
        per checked tensor (of ``sum(f)`` -- only for scalar output, where the cotangent is 1).
    method : {"auto", "central", "complex"}
        See the module docstring.
    max_elements : int
        Check every element up to this many in total, else a sample per parameter.
    n_directions : int
        Random directions over all parameters checked in addition.
    rng : numpy.random.Generator, optional
        For the cotangent, the noise direction, the sample and the directions
        (default ``np.random.default_rng(0)``: reproducible).

    Returns
    -------
    GradcheckResult
        ``passed``, the worst parameter and element, and a readable ``report``.

    Examples
    --------
    >>> import numpy as np
    >>> f = lambda x: np.sum(np.sin(x) * x)
    >>> g = lambda x: np.cos(x) * x + np.sin(x)
    >>> x = np.array([0.5, 1.0, 2.0])
    >>> gradcheck(f, x, grad=g).passed
    True
    >>> gradcheck(f, x, grad=lambda x: 1.001 * g(x), method="central").passed
    False
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {METHODS}")
    if not isinstance(max_elements, int) or max_elements < 1:
        raise ValueError(f"max_elements must be a positive integer, got {max_elements!r}")
    if not isinstance(n_directions, int) or n_directions < 0:
        raise ValueError(f"n_directions must be an integer >= 0, got {n_directions!r}")
    rng = np.random.default_rng(0) if rng is None else rng
    torch = _torch_if_used(f, x)
    problem: _Problem
    if torch is not None:
        problem = _TorchProblem(f, x, grad, rng)
    else:
        problem = _NumpyProblem(f, x, grad, rng)
    eps = float(np.finfo(problem.dtype).eps)
    steps = _steps(problem)
    sigma = _noise(problem, rng, steps)
    chosen, sampled = _select(problem, max_elements, rng)
    gscales = [float(np.sqrt(np.mean(a * a))) for a in problem.analytic]

    use = method
    if method in ("auto", "complex"):
        k0, i0 = chosen[0]
        try:
            probe = problem.loss_complex(k0, i0, _COMPLEX_STEP * steps[k0].reshape(-1)[i0])
            ok = math.isfinite(probe)
        except (TypeError, ValueError, RuntimeError):
            if method == "complex":
                raise ValueError("method='complex' needs f to accept complex input and return a "
                                 "complex result (no abs, maximum, comparisons or casts)") from None
            ok = False
        if ok and method == "auto":
            # Analytic?  A complex-capable f with abs or comparisons gives a wrong derivative.
            c = _check(problem, problem.names[k0], (), {(k0, i0): steps[k0].reshape(-1)[i0]},
                       probe, gscales[k0], sigma, 1.0, eps, "central")
            ok = c.error <= c.uncertainty + _GRAD_ROUND_ULPS * eps * max(abs(probe), gscales[k0])
        use = "complex" if ok else "central"

    checks = []
    for k, i in chosen:
        shape = problem.shapes[k]
        index = tuple(int(j) for j in np.unravel_index(i, shape)) if shape else ()
        checks.append(_check(problem, problem.names[k], index,
                             {(k, i): steps[k].reshape(-1)[i]},
                             float(problem.analytic[k].reshape(-1)[i]), gscales[k], sigma, 1.0,
                             eps, use))
    if len(chosen) < sum(int(np.prod(s)) for s in problem.shapes) or len(problem.shapes) > 1:
        for n in range(n_directions):
            unit = {}
            analytic = 0.0
            for k, s in enumerate(steps):
                u = rng.choice([-1.0, 1.0], size=s.shape)
                analytic += float(np.sum(u * s * problem.analytic[k]))
                for i, (a, h) in enumerate(zip(u.reshape(-1), s.reshape(-1))):
                    unit[(k, i)] = a * h
            # The directional derivative is along u * s, so the analytic value is sum(g u s)
            # and the steps are multiples of it.
            gscale = math.sqrt(sum(float(np.sum((problem.analytic[k] * s) ** 2))
                                   for k, s in enumerate(steps)))
            checks.append(_check(problem, f"direction {n + 1}", (), unit, analytic, gscale,
                                 sigma, 1.0, eps, "central"))

    n_mismatched = sum(c.status == "mismatch" for c in checks)
    n_inconclusive = sum(c.status == "inconclusive" for c in checks)
    worst = max(checks, key=lambda c: c.ratio) if checks else None
    conclusive = [c.uncertainty / abs(c.numeric) for c in checks
                  if c.status != "inconclusive" and c.numeric != 0]
    resolution = float(np.median(conclusive)) if conclusive else math.inf
    passed = n_mismatched == 0
    message = ("gradient matches within the estimated rounding and truncation error" if passed
               else f"gradient mismatch at {worst.where}" if worst is not None else "")
    res = dict(passed=passed, method=use, dtype=problem.dtype.name, n_checked=len(checks),
               n_mismatched=n_mismatched, n_inconclusive=n_inconclusive, noise=sigma,
               resolution=resolution, evaluations=problem.evaluations, sampled=sampled,
               worst=worst)
    return GradcheckResult(checks=tuple(checks), message=message, report=_report(res, checks),
                           **res)


def _torch_if_used(f: Any, x: Any) -> Any:
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        return None
    items = list(x) if isinstance(x, tuple | list) else [x]
    if isinstance(f, torch.nn.Module) or any(isinstance(a, torch.Tensor) for a in items):
        return torch
    return None
