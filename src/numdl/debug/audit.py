"""How well a model's values fit float16, bfloat16 and float8: a precision audit from one float32 step.

:func:`precision_audit` runs one forward and backward pass in float32 and records, per operation
(or per module), the range of magnitudes each produced, and from it, for each low-precision format:

* **headroom in bits** -- ``log2(max_format / max|x|)`` against overflow (negative: the largest
  value does not fit) and ``log2(min|x| / smallest_normal)`` against underflow (negative: some
  values become subnormal, with fewer significant bits), also against the smallest subnormal
  (negative: some values flush to zero);
* **the fraction of values** that would overflow (round to +-inf, or to NaN in float8_e4m3fn, which
  has no infinity), become subnormal, or flush to zero, under round-to-nearest-even;
* for the **gradients**, a feasible interval of power-of-two **loss scales** for float16: the
  largest scale that keeps every scaled gradient finite, the smallest that keeps all but
  `underflow_tolerance` of the nonzero ones from flushing to zero -- or, when the gradients span
  more binades than float16 has, "none", with the operations to keep in float32.

Forward values are every floating output of every ATen operation (views excluded), seen by a
``TorchDispatchMode``.  Backward values are the gradients each autograd node passes on (the
gradient with respect to the inputs of its forward operation), read with node hooks; they are
attributed to the forward operation and module by the node's sequence number (as in
:func:`numdl.debug.trace_nonfinite`).  Only gradients scale with the loss scale, which is why the
backward entries are gradients and not every intermediate of the backward formulas.

This is a what-if for *pure* low precision: autocast keeps reductions, softmax and losses in float32,
so an entry flagged here may be safe under autocast.  The audit tells where the margin is.

Examples
--------
>>> import torch
>>> from numdl.debug import precision_audit
>>> class Toy(torch.nn.Module):
...     def forward(self, x):
...         return torch.exp(x)
>>> x = torch.tensor([1.0, 12.0], requires_grad=True)
>>> audit = precision_audit(Toy(), x, lambda y: y.sum())
>>> [e.label for e in audit.flagged("float16", phase="forward")]
['forward (model) exp', 'forward (loss) sum']
>>> audit.flagged("bfloat16")
[]
>>> round(audit.entries[0].fit("float16").overflow_headroom_bits, 2)  # log2(65504 / e^12)
-1.31
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from numdl.debug._common import base_name

__all__ = [
    "AUDIT_FORMATS",
    "AuditEntry",
    "FormatFit",
    "LossScale",
    "PrecisionAudit",
    "plot_precision_audit",
    "precision_audit",
]

AUDIT_FORMATS = ("float16", "bfloat16", "float8_e4m3fn", "float8_e5m2")
_HIST_OFFSET = 160  # frexp exponents of float32 lie in [-148, 128]
_HIST_SIZE = 300
_SKIP = frozenset({"detach", "alias", "empty", "empty_like", "empty_strided", "new_empty",
                   "lift_fresh", "lift_fresh_copy", "_local_scalar_dense", "clone", "_to_copy",
                   "copy", "zeros_like", "ones_like", "full_like", "scalar_tensor", "zero",
                   "fill"})


@dataclass(frozen=True)
class _Limits:
    name: str
    max: float
    overflow_at: float  # |x| at or above (or above, without infinity) this overflows
    overflow_inclusive: bool
    smallest_normal: float
    smallest_subnormal: float


def _limits(name: str) -> _Limits:
    from numdl.floats import format_info

    info = format_info(name)
    top_ulp = info.eps * 2.0 ** math.floor(math.log2(info.max))
    return _Limits(name, info.max, info.max + top_ulp / 2, info.has_infinity,
                   info.smallest_normal, info.smallest_subnormal)


@dataclass(frozen=True)
class FormatFit:
    """How one entry's values fit one format.

    Attributes
    ----------
    format : str
        ``"float16"``, ``"bfloat16"``, ``"float8_e4m3fn"`` or ``"float8_e5m2"``.
    overflow_headroom_bits : float
        ``log2(format max / max|x|)``; negative when the largest value does not fit.
    normal_headroom_bits : float
        ``log2(min nonzero |x| / smallest normal)``; negative when some values are subnormal.
    subnormal_headroom_bits : float
        ``log2(min nonzero |x| / smallest subnormal)``; negative when some values flush to 0.
    overflow_fraction, subnormal_fraction, underflow_fraction : float
        Of the finite values: the fraction that would overflow, become subnormal, flush to zero.
    """

    format: str
    overflow_headroom_bits: float
    normal_headroom_bits: float
    subnormal_headroom_bits: float
    overflow_fraction: float
    subnormal_fraction: float
    underflow_fraction: float

    @property
    def overflows(self) -> bool:
        return self.overflow_fraction > 0

    @property
    def underflows(self) -> bool:
        return self.underflow_fraction > 0


@dataclass(frozen=True)
class AuditEntry:
    """Values of one operation (or module) in one phase.

    Attributes
    ----------
    phase : {"forward", "backward"}
        Forward outputs, or gradients passed on by the backward.
    module : str
        Module path (``""``: the model's own code; ``"(loss)"``: the loss function, outside
        the model).
    module_type : str
    op : str
        Operation name (``"exp"``), or ``""`` for an audit by module.
    calls : int
        Tensors seen.
    count, n_zero, n_nonfinite : int
        Values seen, zeros among them, non-finite values (already in float32).
    max_abs, min_abs : float
        Largest magnitude and smallest nonzero magnitude of the finite values (NaN if none).
    fits : tuple of FormatFit
        One per format of :data:`AUDIT_FORMATS`.
    """

    phase: str
    module: str
    module_type: str
    op: str
    calls: int
    count: int
    n_zero: int
    n_nonfinite: int
    max_abs: float
    min_abs: float
    fits: tuple[FormatFit, ...]

    def fit(self, fmt: str) -> FormatFit:
        """The :class:`FormatFit` of a format, by name."""
        for f in self.fits:
            if f.format == fmt:
                return f
        raise ValueError(f"fmt={fmt!r} is not one of {AUDIT_FORMATS}")

    @property
    def label(self) -> str:
        where = self.module if self.module else "(model)"
        return f"{self.phase} {where}" + (f" {self.op}" if self.op else "")


@dataclass(frozen=True)
class LossScale:
    """Feasible power-of-two loss scales for float16 gradients.

    Attributes
    ----------
    feasible : bool
    low, high : float or None
        The interval ``[low, high]`` of scales (powers of two), when feasible.
    keep_fp32 : tuple of str
        When not feasible for all gradients: operations whose gradients to keep in float32 so
        that the rest has a feasible interval (``low``/``high`` are then that interval).
    max_abs, min_abs : float
        Range of the nonzero finite gradients.
    underflow_tolerance : float
        Fraction of nonzero gradient values allowed to flush to zero at ``low``.
    message : str
        One line: ``"[2^3, 2^14]"`` or ``"none: keep op X in fp32"``.
    """

    feasible: bool
    low: float | None
    high: float | None
    keep_fp32: tuple[str, ...]
    max_abs: float
    min_abs: float
    underflow_tolerance: float
    message: str


@dataclass(frozen=True)
class PrecisionAudit:
    """The result of :func:`precision_audit`.

    Attributes
    ----------
    entries : tuple of AuditEntry
        Forward entries in execution order, then backward entries.
    loss_scale : LossScale
    by : {"op", "module"}
    loss : float
        The float32 loss of the audited step.
    """

    entries: tuple[AuditEntry, ...]
    loss_scale: LossScale
    by: str
    loss: float

    def flagged(self, fmt: str, kind: str = "overflow", phase: str | None = None
                ) -> list[AuditEntry]:
        """Entries whose values would overflow (``kind="overflow"``) or flush to zero
        (``"underflow"``) in `fmt`."""
        if kind not in ("overflow", "underflow"):
            raise ValueError(f"kind={kind!r} must be 'overflow' or 'underflow'")
        out = []
        for e in self.entries:
            if phase is not None and e.phase != phase:
                continue
            f = e.fit(fmt)
            if (f.overflows if kind == "overflow" else f.underflows):
                out.append(e)
        return out

    @property
    def report(self) -> str:
        """A table of ranges and headroom per entry and format, the flagged entries, the scale."""
        cols = [("phase", 8), ("module", 14), ("op", 12), ("max|x|", 9), ("min|x|", 9)]
        head = "  ".join(n.ljust(w) for n, w in cols)
        fmt_w = 18
        head += "  " + "  ".join(f.ljust(fmt_w) for f in AUDIT_FORMATS)
        lines = [
            f"precision_audit ({self.by}s): {len(self.entries)} entries, float32 loss "
            f"{self.loss:.6g}",
            "per format: overflow headroom / underflow headroom in bits "
            "(log2(max/max|x|) / log2(min|x|/smallest normal)); negative = does not fit; "
            "O = % overflowing, Z = % flushed to zero",
            head,
        ]
        for e in self.entries:
            row = [e.phase, e.module or "(model)", e.op or "*", f"{e.max_abs:.3g}",
                   f"{e.min_abs:.3g}"]
            text = "  ".join(str(v)[:w].ljust(w) for v, (_, w) in zip(row, cols))
            cells = []
            for f in e.fits:
                c = f"{_bits(f.overflow_headroom_bits)}/{_bits(f.normal_headroom_bits)}"
                if f.overflow_fraction:
                    c += f" O{_pct(f.overflow_fraction)}"
                if f.underflow_fraction:
                    c += f" Z{_pct(f.underflow_fraction)}"
                cells.append(c.ljust(fmt_w))
            lines.append(text + "  " + "  ".join(cells))
        lines.append("")
        for fmt in AUDIT_FORMATS:
            over = self.flagged(fmt, "overflow")
            under = self.flagged(fmt, "underflow")
            parts = []
            if over:
                parts.append("overflows in " + ", ".join(
                    f"{e.label} ({_pct(e.fit(fmt).overflow_fraction)})" for e in over))
            if under:
                parts.append("flushes to zero in " + ", ".join(
                    f"{e.label} ({_pct(e.fit(fmt).underflow_fraction)})" for e in under))
            lines.append(f"{fmt}: " + ("; ".join(parts) if parts else "fits everywhere"))
        lines.append(f"float16 loss scale for the gradients: {self.loss_scale.message}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report

    def figure(self, phase: str | None = None) -> Any:
        """:func:`plot_precision_audit` of this audit."""
        return plot_precision_audit(self, phase=phase)


def _bits(v: float) -> str:
    if math.isnan(v):
        return "-"
    return f"{v:+.1f}"


def _pct(p: float) -> str:
    return f"{100 * p:.3g}%"


# -- collection --------------------------------------------------------------------------------


class _Acc:
    """Running statistics of one entry."""

    __slots__ = ("calls", "count", "hist", "max_abs", "min_abs", "module_type", "n_nonfinite",
                 "n_over", "n_sub", "n_under", "n_zero")

    def __init__(self, module_type: str) -> None:
        self.module_type = module_type
        self.calls = 0
        self.count = 0
        self.n_zero = 0
        self.n_nonfinite = 0
        self.max_abs = 0.0
        self.min_abs = math.inf
        k = len(AUDIT_FORMATS)
        self.n_over = [0] * k
        self.n_sub = [0] * k
        self.n_under = [0] * k
        self.hist = np.zeros(_HIST_SIZE, dtype=np.int64)

    def add(self, t: Any, limits: list[_Limits], hist: bool) -> None:
        import torch

        with torch.no_grad():
            a = t.detach().abs().float().reshape(-1)
            finite = torch.isfinite(a)
            n_fin = int(finite.sum())
            self.calls += 1
            self.count += a.numel()
            self.n_nonfinite += a.numel() - n_fin
            if n_fin < a.numel():
                a = a[finite]
            if a.numel() == 0:
                return
            nz_mask = a > 0
            nz = a[nz_mask]
            self.n_zero += a.numel() - nz.numel()
            if nz.numel() == 0:
                return
            self.max_abs = max(self.max_abs, float(nz.max()))
            self.min_abs = min(self.min_abs, float(nz.min()))
            for k, lim in enumerate(limits):
                over = (nz >= lim.overflow_at) if lim.overflow_inclusive else (
                    nz > lim.overflow_at)
                self.n_over[k] += int(over.sum())
                self.n_under[k] += int((nz <= lim.smallest_subnormal / 2).sum())
                self.n_sub[k] += int(((nz > lim.smallest_subnormal / 2)
                                      & (nz < lim.smallest_normal)).sum())
            if hist:
                _, e = torch.frexp(nz)
                counts = torch.bincount((e.long() + _HIST_OFFSET).clamp(0, _HIST_SIZE - 1),
                                        minlength=_HIST_SIZE)
                self.hist += counts.cpu().numpy()

    def entry(self, phase: str, module: str, op: str, limits: list[_Limits]) -> AuditEntry:
        finite = self.count - self.n_nonfinite
        has = self.max_abs > 0
        fits = []
        for k, lim in enumerate(limits):
            fits.append(FormatFit(
                format=lim.name,
                overflow_headroom_bits=math.log2(lim.max / self.max_abs) if has else math.nan,
                normal_headroom_bits=math.log2(self.min_abs / lim.smallest_normal) if has
                else math.nan,
                subnormal_headroom_bits=math.log2(self.min_abs / lim.smallest_subnormal) if has
                else math.nan,
                overflow_fraction=self.n_over[k] / finite if finite else 0.0,
                subnormal_fraction=self.n_sub[k] / finite if finite else 0.0,
                underflow_fraction=self.n_under[k] / finite if finite else 0.0,
            ))
        return AuditEntry(
            phase=phase, module=module, module_type=self.module_type, op=op, calls=self.calls,
            count=self.count, n_zero=self.n_zero, n_nonfinite=self.n_nonfinite,
            max_abs=self.max_abs if has else math.nan,
            min_abs=self.min_abs if has else math.nan, fits=tuple(fits),
        )


def _scale_interval(hist: np.ndarray, max_abs: float, tol: float) -> tuple[int, int] | None:
    """(k_min, k_max) with scales 2^k that keep the gradients finite and all but `tol` of the
    nonzero ones from flushing to zero in float16; None if there are none."""
    n = int(hist.sum())
    if n == 0 or not max_abs > 0:
        return None
    overflow_at = _limits("float16").overflow_at  # 65520: rounds to inf
    k_max = math.floor(math.log2(overflow_at / max_abs))
    if max_abs * 2.0**k_max >= overflow_at:
        k_max -= 1
    # |x| in [2^(e-1), 2^e) scaled by 2^k is <= 2^-25 (flushes to 0 in float16) iff e + k <= -25.
    exps = np.arange(_HIST_SIZE) - _HIST_OFFSET
    allowed = tol * n
    for k in range(-200, 201):
        if hist[exps + k <= -25].sum() <= allowed:
            k_min = k
            break
    else:  # pragma: no cover - the histogram spans at most 300 binades
        return None
    return k_min, k_max


def _fmt_scale(k: int) -> str:
    return f"2^{k}"


def _loss_scale(accs: dict[tuple, _Acc], tol: float) -> LossScale:
    grads = {key: a for key, a in accs.items() if key[0] == "backward" and a.hist.sum()}
    if not grads:
        return LossScale(False, None, None, (), math.nan, math.nan, tol,
                         "none: no nonzero gradients were seen")
    total = sum(a.hist for a in grads.values())
    max_abs = max(a.max_abs for a in grads.values())
    min_abs = min(a.min_abs for a in grads.values())
    nonfinite = sum(a.n_nonfinite for a in grads.values())
    if nonfinite:
        return LossScale(False, None, None, (), max_abs, min_abs, tol,
                         f"none: {nonfinite} gradient values are already non-finite in float32")
    iv = _scale_interval(total, max_abs, tol)
    if iv is not None and iv[0] <= iv[1]:
        lo, hi = iv
        msg = (f"[{_fmt_scale(lo)}, {_fmt_scale(hi)}] = [{2.0**lo:.6g}, {2.0**hi:.6g}] "
               f"(gradients span |g| in [{min_abs:.3g}, {max_abs:.3g}])")
        if not lo <= 16 <= hi:
            msg += "; GradScaler's initial 2^16 lies outside: it will " + (
                "skip steps until it backs off" if 16 > hi else "grow the scale from below")
        return LossScale(True, 2.0**lo, 2.0**hi, (), max_abs, min_abs, tol, msg)
    # Greedily keep in float32 the operation whose removal widens the interval most.
    remaining = dict(grads)
    removed = []
    while len(remaining) > 1:
        best = None
        for key in remaining:
            rest = {k: a for k, a in remaining.items() if k != key}
            hist = sum(a.hist for a in rest.values())
            m = max(a.max_abs for a in rest.values())
            r = _scale_interval(hist, m, tol)
            width = (r[1] - r[0]) if r is not None else -math.inf
            if best is None or width > best[0]:
                best = (width, key, r)
        width, key, r = best
        removed.append(key)
        del remaining[key]
        if r is not None and r[0] <= r[1]:
            names = tuple(_key_label(k) for k in removed)
            msg = (f"none: keep {', '.join('op ' + n for n in names)} in fp32 (its gradients "
                   f"span more than float16's range); the rest fits "
                   f"[{_fmt_scale(r[0])}, {_fmt_scale(r[1])}]")
            return LossScale(False, 2.0 ** r[0], 2.0 ** r[1], names, max_abs, min_abs, tol, msg)
    names = tuple(_key_label(k) for k in grads)
    return LossScale(False, None, None, names, max_abs, min_abs, tol,
                     "none: the gradients of a single operation span more than float16's range; "
                     "keep the backward in fp32 (or use bfloat16)")


def _key_label(key: tuple) -> str:
    _, module, op = key
    return f"{op or '*'} ({module or '(model)'})"


def precision_audit(model: Any, inputs: Any, loss_fn: Callable[[Any], Any], *,
                    by: str = "op", underflow_tolerance: float = 1e-3) -> PrecisionAudit:
    """Audit the ranges of one float32 training step against float16, bfloat16 and float8.

    Parameters
    ----------
    model : torch.nn.Module
        In float32 (the audit asks what *would* happen in a narrower format).
    inputs : torch.Tensor or tuple
        ``model(*inputs)`` (a single tensor is ``model(inputs)``).
    loss_fn : callable
        ``loss_fn(output) -> scalar tensor``; close over targets: ``lambda y: F.mse_loss(y, t)``.
    by : {"op", "module"}
        Granularity: one entry per (phase, module, operation), or per (phase, module).
    underflow_tolerance : float
        Fraction of nonzero gradient values allowed to flush to zero at the lowest loss scale
        (default 1e-3).  Overflow has no tolerance: one infinite gradient skips the step.

    Returns
    -------
    PrecisionAudit
        ``entries``, ``flagged(fmt)``, ``loss_scale``, a readable ``report`` and ``figure()``.

    Notes
    -----
    The gradients are computed with ``torch.autograd.grad`` with respect to the parameters (and
    the inputs that require grad), so the ``.grad`` of the parameters is left as it was.  The
    step runs in the model's current mode (``train()``/``eval()``); dropout draws from torch's
    generator as usual.
    """
    import torch

    if by not in ("op", "module"):
        raise ValueError(f"by={by!r} must be 'op' or 'module'")
    if not (0 <= underflow_tolerance < 1):
        raise ValueError(f"underflow_tolerance must be in [0, 1), got {underflow_tolerance!r}")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    args = tuple(inputs) if isinstance(inputs, tuple | list) else (inputs,)
    limits = [_limits(f) for f in AUDIT_FORMATS]
    types = {name: type(m).__name__ for name, m in model.named_modules()}
    accs: dict[tuple, _Acc] = {}
    stack: list[str] = []
    seq_map: dict[int, tuple[str, str]] = {}
    thread = threading.get_ident()

    def key_of(phase: str, module: str, op: str) -> tuple:
        return (phase, module, op if by == "op" else "")

    def acc(key: tuple) -> _Acc:
        a = accs.get(key)
        if a is None:
            a = accs[key] = _Acc(types.get(key[1], "loss" if key[1] == "(loss)" else ""))
        return a

    handles = []
    for name, module in model.named_modules():
        def pre(m: Any, a: Any, name: str = name) -> None:
            if threading.get_ident() == thread:
                stack.append(name)

        def post(m: Any, a: Any, o: Any, name: str = name) -> None:
            if threading.get_ident() == thread:
                while stack and stack.pop() != name:
                    pass

        handles.append(module.register_forward_pre_hook(pre))
        handles.append(module.register_forward_hook(post))

    from torch.utils._python_dispatch import TorchDispatchMode

    get_seq = torch._C._autograd._get_sequence_nr

    class _Mode(TorchDispatchMode):
        def __torch_dispatch__(self, func, types_, args=(), kwargs=None):
            kwargs = kwargs or {}
            short = base_name("aten." + func.overloadpacket.__name__)
            module = stack[-1] if stack else "(loss)"
            if torch.is_grad_enabled() and any(
                    isinstance(t, torch.Tensor) and t.requires_grad for t in args):
                seq = get_seq() - 1
                if seq >= 0 and seq not in seq_map:
                    seq_map[seq] = (module, short)
            if func.is_view or short in _SKIP:
                return func(*args, **kwargs)
            out = func(*args, **kwargs)
            outs = [out] if isinstance(out, torch.Tensor) else [
                o for o in out if isinstance(o, torch.Tensor)] if isinstance(
                    out, tuple | list) else []
            for o in outs:
                if o.is_floating_point() and o.numel() and o.device.type != "meta":
                    acc(key_of("forward", module, short)).add(o, limits, hist=False)
            return out

    try:
        with _Mode():
            out = model(*args)
            loss = loss_fn(out)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise ValueError("loss_fn must return a scalar tensor")
        leaves = [p for p in model.parameters() if p.requires_grad]
        leaves += [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
        if not leaves:
            raise ValueError("nothing requires grad: the model has no trainable parameters and "
                             "no input requires grad")
        node_hooks = []
        seen = set()
        todo = [loss.grad_fn] if loss.grad_fn is not None else []
        while todo:
            node = todo.pop()
            if node is None or node in seen:
                continue
            seen.add(node)
            todo.extend(n for n, _ in node.next_functions)
            rec = seq_map.get(node._sequence_nr())
            module, op = rec if rec is not None else ("(loss)", base_name(
                node.name().rstrip("0123456789").removesuffix("Backward").lower()))
            if node.name() == "torch::autograd::AccumulateGrad":
                continue

            def hook(grad_inputs: Any, grad_outputs: Any, key: tuple = key_of(
                    "backward", module, op)) -> None:
                for g in grad_inputs:
                    if isinstance(g, torch.Tensor) and g.is_floating_point() and g.numel():
                        acc(key).add(g, limits, hist=True)

            node_hooks.append(node.register_hook(hook))
        try:
            torch.autograd.grad(loss, leaves, allow_unused=True)
        finally:
            for h in node_hooks:
                h.remove()
    finally:
        for h in handles:
            h.remove()
    forward = [a.entry(k[0], k[1], k[2], limits) for k, a in accs.items() if k[0] == "forward"]
    backward = [a.entry(k[0], k[1], k[2], limits) for k, a in accs.items()
                if k[0] == "backward"]
    return PrecisionAudit(entries=tuple(forward + backward),
                          loss_scale=_loss_scale(accs, underflow_tolerance), by=by,
                          loss=float(loss.detach()))


def plot_precision_audit(audit: PrecisionAudit, *, phase: str | None = None) -> Any:
    """A plotly chart: each entry's magnitude range in log2 against the formats' limits.

    One horizontal bar per entry from ``log2(min|x|)`` to ``log2(max|x|)`` (red where it crosses
    float16's limits), and vertical lines at each format's ``log2(max)`` (solid) and
    ``log2(smallest normal)`` (dashed).

    Parameters
    ----------
    audit : PrecisionAudit
    phase : {"forward", "backward"}, optional
        Only these entries.

    Returns
    -------
    plotly.graph_objects.Figure

    Raises
    ------
    ImportError
        If plotly is not installed (it comes with ``pip install 'numdl[tutorial]'``).
    """
    try:
        import plotly.graph_objects as go  # only here: the library does not depend on plotly
    except ImportError as exc:
        raise ImportError("plot_precision_audit draws with plotly, which is not installed: "
                          "pip install plotly (or 'numdl[tutorial]')") from exc

    entries = [e for e in audit.entries if (phase is None or e.phase == phase)
               and not math.isnan(e.max_abs)]
    labels = [e.label for e in entries]
    lo = [math.log2(e.min_abs) for e in entries]
    hi = [math.log2(e.max_abs) for e in entries]
    colors = ["#d62728" if (e.fit("float16").overflows or e.fit("float16").underflows)
              else "#1f77b4" for e in entries]
    fig = go.Figure(go.Bar(
        y=labels, x=[h - lo_ for h, lo_ in zip(hi, lo)], base=lo, orientation="h",
        marker_color=colors, name="log2 |x| range",
        hovertemplate="%{y}<br>log2|x| from %{base:.1f} to %{x:.1f} wide<extra></extra>",
    ))
    palette = {"float16": "#2ca02c", "bfloat16": "#9467bd", "float8_e4m3fn": "#ff7f0e",
               "float8_e5m2": "#8c564b"}
    for name in AUDIT_FORMATS:
        lim = _limits(name)
        for value, dash, what in ((lim.max, "solid", "max"),
                                  (lim.smallest_normal, "dash", "smallest normal")):
            fig.add_vline(x=math.log2(value), line_dash=dash, line_color=palette[name],
                          annotation_text=f"{name} {what}", annotation_textangle=-90,
                          annotation_font_size=9)
    fig.update_layout(
        title=f"Magnitude ranges per {audit.by} against format limits (red: float16 does not fit)",
        xaxis_title="log2 |x|", yaxis_title="", yaxis_autorange="reversed",
        height=max(300, 22 * len(entries) + 120), showlegend=False,
    )
    return fig
