"""Shared pieces of the debugging tools: the user's frame, value summaries, the table of fixes.

The user's frame is the innermost frame whose file lies outside NumPy, PyTorch, numdl and the
standard library: the line the user wrote, not the library line that raised.  Looking it up costs
a walk of a few frames with a per-code-object cache, so the tracer can afford it on every
operation it records.
"""

from __future__ import annotations

import linecache
import math
import os
import sys
import sysconfig
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import Any

import numpy as np

# The names the other debug modules share; the package re-exports the first four.
__all__ = [
    "NonfiniteError",
    "SourceLocation",
    "ValueSummary",
    "backward_fix",
    "base_name",
    "domain_of",
    "double_where_example",
    "fix_for",
    "frame_key",
    "location_from_key",
    "location_of",
    "register_user_code",
    "summarize_numpy",
    "summarize_tensor",
    "user_frame",
]


class NonfiniteError(FloatingPointError):
    """A NaN or an infinity was produced where the debugging tools were told to stop.

    Raised by :func:`numdl.debug.nonfinite_guard` (NumPy) and by
    :func:`numdl.debug.trace_nonfinite` with ``raise_on_first=True`` (PyTorch).  A subclass of
    :class:`FloatingPointError`, so code that already catches NumPy's ``errstate(all="raise")``
    errors catches it too.

    Attributes
    ----------
    finding : GuardFinding or Finding
        The record of what was produced where; ``str(error)`` is its report.
    """

    def __init__(self, message: str, finding: Any = None) -> None:
        super().__init__(message)
        self.finding = finding


@dataclass(frozen=True)
class SourceLocation:
    """A line of user code.

    Attributes
    ----------
    filename : str
    lineno : int
    function : str
        Name of the enclosing function (``"<module>"`` at top level).
    line : str
        The source text of the line, stripped; ``""`` when the source is not available (code typed
        at the interactive prompt, ``python -c``).
    segment : str
        The sub-expression being evaluated when the error happened (``"np.exp(x)"`` in
        ``y = np.exp(x) * 2``) where Python 3.11+ position tables give it, else ``""``.
    """

    filename: str
    lineno: int
    function: str
    line: str = ""
    segment: str = ""

    def __str__(self) -> str:
        text = f"{self.filename}:{self.lineno} in {self.function}"
        return f"{text}: {self.line}" if self.line else text


def _package_dir(module: Any) -> str | None:
    path = getattr(module, "__file__", None)
    return os.path.dirname(os.path.abspath(path)) + os.sep if path else None


_NUMDL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
# Folders inside an internal package whose frames are the user's all the same (see
# register_user_code): code that ships inside a package but is what a user wants named.
_user_dirs: tuple[str, ...] = ()
_STDLIB_DIRS = tuple(
    {os.path.abspath(p) + os.sep for k in ("stdlib", "platstdlib") if (p := sysconfig.get_paths().get(k))}
)
_internal_dirs: tuple[str, ...] = ()
_internal_torch: Any = False  # the torch module the prefixes were computed with
_internal_code: dict[CodeType, bool] = {}


def _internal_prefixes() -> tuple[str, ...]:
    """Package directories whose frames are never the user's: numdl, NumPy, torch (if loaded).

    The standard library is skipped too (``contextlib``, ``functools`` wrappers), but not its
    ``site-packages``, which holds the user's other libraries.  Recomputed only when torch
    appears in ``sys.modules``.
    """
    global _internal_dirs, _internal_torch
    torch = sys.modules.get("torch")
    if torch is not _internal_torch:
        dirs = [_NUMDL_DIR, _package_dir(np)]
        if torch is not None:
            dirs.append(_package_dir(torch))
        _internal_dirs = tuple(d for d in dirs if d)
        _internal_torch = torch
        _internal_code.clear()
    return _internal_dirs


def _is_internal(code: CodeType) -> bool:
    hit = _internal_code.get(code)
    if hit is None:
        name = code.co_filename
        if name.startswith("<frozen") or (name == "<string>" and code.co_name.startswith("__")):
            hit = True
        else:
            path = os.path.abspath(name) if not name.startswith("<") else name
            hit = (path.startswith(_internal_prefixes()) and not path.startswith(_user_dirs)) or (
                path.startswith(_STDLIB_DIRS) and "site-packages" not in path
            )
        _internal_code[code] = hit
    return hit


def register_user_code(path: str | os.PathLike[str]) -> None:
    """Treat frames from files under `path` as the user's code.

    The debugging tools name the innermost line outside numdl, NumPy, torch and the standard
    library.  Code that lives inside one of those packages but is what its reader wants named
    (a notebook shipped inside a package, a model library vendored under ``site-packages/numdl``)
    is registered here; the tutorial registers its notebook folder, whose cells marimo compiles
    with the notebook's path.  Registering the same folder twice is harmless.

    Raises
    ------
    TypeError
        If `path` is not a str or path-like.
    """
    global _user_dirs
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    folder = os.path.abspath(os.fspath(path)).rstrip(os.sep) + os.sep
    if folder not in _user_dirs:
        _user_dirs = (*_user_dirs, folder)
        _internal_code.clear()


def user_frame(start: FrameType | None = None) -> FrameType | None:
    """The innermost frame outside numdl, NumPy, torch and the standard library."""
    _internal_prefixes()
    frame = start if start is not None else sys._getframe(1)
    while frame is not None and _is_internal(frame.f_code):
        frame = frame.f_back
    return frame


def frame_key(frame: FrameType | None) -> tuple[str, int, str] | None:
    """A cheap, frame-free record of where a frame is now: (filename, lineno, function)."""
    if frame is None:
        return None
    return (frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name)


def location_from_key(key: tuple[str, int, str] | None, segment: str = "") -> SourceLocation | None:
    if key is None:
        return None
    filename, lineno, function = key
    line = linecache.getline(filename, lineno).strip()
    return SourceLocation(filename, lineno, function, line, segment)


def location_of(frame: FrameType | None) -> SourceLocation | None:
    """The frame's current line, with the sub-expression being evaluated where Python knows it."""
    if frame is None:
        return None
    return location_from_key(frame_key(frame), _current_segment(frame))


def _is_expression(text: str) -> bool:
    import ast

    try:
        ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return False
    return bool(text.strip())


def _current_segment(frame: FrameType) -> str:
    """Source text of the instruction the frame is executing (Python 3.11+ position tables)."""
    import dis

    try:
        for ins in dis.get_instructions(frame.f_code):
            if ins.offset == frame.f_lasti:
                pos = ins.positions
                if pos is None or None in (pos.lineno, pos.end_lineno, pos.col_offset,
                                           pos.end_col_offset):
                    return ""
                lines = [
                    linecache.getline(frame.f_code.co_filename, n)
                    for n in range(pos.lineno, pos.end_lineno + 1)
                ]
                if not all(lines):
                    return ""
                # Column offsets are relative to the code as compiled.  marimo compiles a cell's
                # body with its indentation removed, so in the notebook file the text sits
                # further right: try the usual indent widths and keep the first slice that is a
                # whole expression.
                first = ""
                for shift in (0, 4, 8, 12):
                    start, end = pos.col_offset + shift, pos.end_col_offset + shift
                    if len(lines) == 1:
                        seg = lines[0][start:end]
                    else:
                        seg = (lines[0][start:] + "".join(lines[1:-1]) + lines[-1][:end]).strip()
                    first = first or seg
                    # A real slice neither starts nor ends inside a name ("p * np.lo" parses,
                    # but cuts "log" in two).
                    before = lines[0][start - 1 : start] if start > 0 else ""
                    after = lines[-1][end : end + 1]
                    cut = (before.isidentifier() or before.isdigit()) or (after.isidentifier() or after.isdigit())
                    if not cut and _is_expression(seg):
                        return seg
                return first
    except (AttributeError, TypeError, ValueError):  # pragma: no cover - exotic code objects
        return ""
    return ""


# -- value summaries ---------------------------------------------------------------------------


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if math.isnan(v) or math.isinf(v):
        return str(v)
    return f"{v:.4g}"


@dataclass(frozen=True)
class ValueSummary:
    """Statistics of an array or tensor, for a report.

    Attributes
    ----------
    name : str
        What it is (``"x"``, ``"input 0 (self)"``).
    shape : tuple of int
    dtype : str
    size : int
    n_nan, n_posinf, n_neginf : int
        Non-finite values.
    n_negative, n_zero : int
        Finite values below zero and zeros (either sign).
    min, max : float
        Extremes of the finite values (NaN when there are none).
    min_abs_nonzero : float
        Smallest nonzero magnitude among the finite values (NaN when there is none).
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    size: int
    n_nan: int
    n_posinf: int
    n_neginf: int
    n_negative: int
    n_zero: int
    min: float
    max: float
    min_abs_nonzero: float

    @property
    def n_nonfinite(self) -> int:
        return self.n_nan + self.n_posinf + self.n_neginf

    def describe(self) -> str:
        """One line: ``x: float32[4, 8] in [-0.31, 2.1], 12 negative, 3 zero, 1 NaN``."""
        shape = ", ".join(str(s) for s in self.shape)
        parts = [f"{self.name}: {self.dtype}[{shape}]"]
        if self.size == 0:
            return parts[0] + " (empty)"
        if not math.isnan(self.min):
            parts[0] += f" in [{_fmt(self.min)}, {_fmt(self.max)}]"
        if self.n_negative:
            parts.append(f"{self.n_negative} negative")
        if self.n_zero:
            parts.append(f"{self.n_zero} zero")
        if not math.isnan(self.min_abs_nonzero) and self.min_abs_nonzero < 1e-3:
            parts.append(f"min |x| {_fmt(self.min_abs_nonzero)}")
        for n, what in ((self.n_nan, "NaN"), (self.n_posinf, "+inf"), (self.n_neginf, "-inf")):
            if n:
                parts.append(f"{n} {what}")
        return ", ".join(parts)


def summarize_numpy(name: str, x: Any) -> ValueSummary | None:
    """Summary of a NumPy array or scalar (None for anything that is not numeric)."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiuc" and not _is_ml_float(arr.dtype):
        return None
    if arr.dtype.kind == "c":
        arr = np.abs(arr)
    a = arr.astype(np.float64, copy=False)
    return _summary_from_float64(name, arr.shape, arr.dtype.name, a)


def _is_ml_float(dtype: np.dtype) -> bool:
    return dtype.kind == "V" and dtype.name.startswith(("bfloat16", "float8"))


def _summary_from_float64(name: str, shape: tuple[int, ...], dtype: str, a: np.ndarray) -> ValueSummary:
    finite = np.isfinite(a)
    fin = a[finite]
    nz = np.abs(fin[fin != 0])
    return ValueSummary(
        name=name,
        shape=tuple(int(s) for s in shape),
        dtype=dtype,
        size=int(a.size),
        n_nan=int(np.isnan(a).sum()),
        n_posinf=int(np.isposinf(a).sum()),
        n_neginf=int(np.isneginf(a).sum()),
        n_negative=int((fin < 0).sum()),
        n_zero=int((fin == 0).sum()),
        min=float(fin.min()) if fin.size else math.nan,
        max=float(fin.max()) if fin.size else math.nan,
        min_abs_nonzero=float(nz.min()) if nz.size else math.nan,
    )


def summarize_tensor(name: str, t: Any) -> ValueSummary:
    """Summary of a floating-point torch tensor, computed in float64 on its device."""
    import torch

    with torch.no_grad():
        x = t.detach()
        if x.is_complex():
            x = x.abs()
        a = x.to(torch.float64).reshape(-1)
        finite = torch.isfinite(a)
        fin = a[finite]
        nz = fin[fin != 0].abs()
        return ValueSummary(
            name=name,
            shape=tuple(int(s) for s in t.shape),
            dtype=str(t.dtype).removeprefix("torch."),
            size=int(a.numel()),
            n_nan=int(torch.isnan(a).sum()),
            n_posinf=int(torch.isposinf(a).sum()),
            n_neginf=int(torch.isneginf(a).sum()),
            n_negative=int((fin < 0).sum()),
            n_zero=int((fin == 0).sum()),
            min=float(fin.min()) if fin.numel() else math.nan,
            max=float(fin.max()) if fin.numel() else math.nan,
            min_abs_nonzero=float(nz.min()) if nz.numel() else math.nan,
        )


# -- what went wrong and how to fix it -----------------------------------------------------------

# Functions whose domain excludes part of the real line: the NaN or infinity they produce comes
# from an input outside it.  Value: (condition, what happens outside).
_DOMAIN = {
    "log": ("x > 0", "log(0) = -inf, log(x < 0) = NaN"),
    "log2": ("x > 0", "log2(0) = -inf, log2(x < 0) = NaN"),
    "log10": ("x > 0", "log10(0) = -inf, log10(x < 0) = NaN"),
    "log1p": ("x > -1", "log1p(-1) = -inf, log1p(x < -1) = NaN"),
    "sqrt": ("x >= 0", "sqrt(x < 0) = NaN"),
    "rsqrt": ("x > 0", "rsqrt(0) = inf, rsqrt(x < 0) = NaN"),
    "reciprocal": ("x != 0", "1/0 = inf"),
    "acos": ("-1 <= x <= 1", "acos(|x| > 1) = NaN"),
    "arccos": ("-1 <= x <= 1", "arccos(|x| > 1) = NaN"),
    "asin": ("-1 <= x <= 1", "asin(|x| > 1) = NaN"),
    "arcsin": ("-1 <= x <= 1", "arcsin(|x| > 1) = NaN"),
    "atanh": ("-1 < x < 1", "atanh(+-1) = +-inf, atanh(|x| > 1) = NaN"),
    "arctanh": ("-1 < x < 1", "arctanh(+-1) = +-inf, arctanh(|x| > 1) = NaN"),
    "acosh": ("x >= 1", "acosh(x < 1) = NaN"),
    "arccosh": ("x >= 1", "arccosh(x < 1) = NaN"),
    "xlogy": ("y > 0 where x != 0", "x log(0) = -inf"),
    "digamma": ("x not a non-positive integer", "poles at 0, -1, -2, ..."),
    "lgamma": ("x not a non-positive integer", "poles at 0, -1, -2, ..."),
}

_FIXES = {
    "log": "clamp the input (log(max(x, eps)): x.clamp_min(eps), np.maximum(x, eps)); if x is a "
    "probability from softmax or sigmoid, stay in log space instead: log_softmax, log_sigmoid, "
    "cross-entropy on logits (numdl.log_softmax, numdl.log_sigmoid); log1p(x) for log(1 + x)",
    "log1p": "clamp the input to > -1, or rewrite log1p(-p) as log1mexp of a log-probability "
    "(numdl.log1mexp)",
    "sqrt": "clamp the input at 0 if it is negative only by rounding, e.g. a variance computed as "
    "E[x^2] - E[x]^2 (compute the variance of x - mean instead: torch.var, np.var)",
    "rsqrt": "add eps: rsqrt(x + eps), as layer norm does",
    "reciprocal": "add eps to the denominator or mask the zeros",
    "div": "add eps to the denominator (x / (y + eps), or max(y, eps) when y >= 0); if the "
    "zeros are masked out later, mask the denominator too (the double-where trick) so that the "
    "backward stays finite",
    "exp": "subtract the maximum before exp, as softmax and logsumexp do (numdl.softmax, "
    "numdl.logsumexp, torch.softmax, torch.logsumexp); for log(1 + exp(x)) use softplus",
    "expm1": "subtract the maximum or work in log space (log1mexp, logaddexp)",
    "pow": "rescale the base or compute in log space (exp(b * log(x)) with a logsumexp-style shift)",
    "matmul": "the accumulation overflowed {dtype}: compute it in float32 (autocast does for "
    "matmuls), scale the inputs down (1/sqrt(d) in attention), or normalize earlier",
    "sum": "the sum overflowed {dtype}: accumulate in a wider type (x.sum(dtype=float32) for "
    "half-precision input) or take a mean",
    "mul": "the product overflowed {dtype}: rescale one factor, compute in float32, or add "
    "logarithms instead of multiplying",
    "add": "the sum overflowed {dtype}: an operand is already near the format's maximum; rescale "
    "or compute in float32",
    "to_copy": "the conversion to {dtype} overflowed: values up to {maxabs} exceed its max "
    "{fmax}; keep this tensor in float32 or scale it (a loss scale, a per-tensor scale for fp8)",
    "masked_fill": "if the -inf is an intentional mask, allow it: trace_nonfinite(model, "
    "allow={{'masked_fill'}}); a row masked entirely makes softmax NaN",
    "where": "a branch of torch.where was non-finite where it was selected; mask the input of the "
    "branch too (the double-where trick)",
    "acos": "clamp the input to [-1 + eps, 1 - eps]: rounding pushes cosines of near-parallel "
    "vectors just past 1",
    "asin": "clamp the input to [-1 + eps, 1 - eps]",
    "atanh": "clamp the input to (-1 + eps, 1 - eps)",
}
_ALIASES = {
    "log2": "log", "log10": "log", "log_": "log", "arccos": "acos", "arcsin": "asin",
    "arctanh": "atanh", "true_divide": "div", "divide": "div", "floor_divide": "div",
    "mm": "matmul", "bmm": "matmul", "addmm": "matmul", "baddbmm": "matmul", "addbmm": "matmul",
    "linear": "matmul", "dot": "matmul", "mv": "matmul", "addmv": "matmul", "einsum": "matmul",
    "_scaled_dot_product_attention_math": "matmul", "convolution": "matmul",
    "mean": "sum", "cumsum": "sum", "nansum": "sum", "prod": "mul", "cumprod": "mul",
    "square": "mul", "multiply": "mul", "sub": "add", "subtract": "add", "exp2": "exp",
    "power": "pow", "float_power": "pow", "_to_copy": "to_copy", "to": "to_copy",
    "masked_fill_": "masked_fill", "cosh": "exp", "sinh": "exp", "scalar_tensor": "to_copy",
}

# Backward formulas with an infinite derivative at a point of their domain: a zero reaching them
# from a where or a mask becomes 0 * inf = NaN.  Key: autograd node name without the version.
_BACKWARD_FIXES = {
    "LogBackward": ("log", "d/dx log(x) = 1/x is infinite at x = 0"),
    "Log2Backward": ("log2", "d/dx log2(x) = 1/(x ln 2) is infinite at x = 0"),
    "Log10Backward": ("log10", "d/dx log10(x) = 1/(x ln 10) is infinite at x = 0"),
    "SqrtBackward": ("sqrt", "d/dx sqrt(x) = 1/(2 sqrt(x)) is infinite at x = 0"),
    "RsqrtBackward": ("rsqrt", "d/dx rsqrt(x) = -1/(2 x^1.5) is infinite at x = 0"),
    "PowBackward": ("pow", "d/dx x^p = p x^(p-1) is infinite at x = 0 for p < 1"),
    "DivBackward": ("div", "d/dy (x/y) = -x/y^2 is infinite at y = 0"),
    "ReciprocalBackward": ("reciprocal", "d/dx 1/x = -1/x^2 is infinite at x = 0"),
    "AcosBackward": ("acos", "d/dx acos(x) = -1/sqrt(1 - x^2) is infinite at x = +-1"),
    "AsinBackward": ("asin", "d/dx asin(x) = 1/sqrt(1 - x^2) is infinite at x = +-1"),
    "AtanhBackward": ("atanh", "d/dx atanh(x) = 1/(1 - x^2) is infinite at x = +-1"),
    "XlogyBackward": ("xlogy", "d/dy x log(y) = x/y is infinite at y = 0"),
    "NormBackward": ("norm", "the derivative of a p-norm with p < 1 is infinite at 0"),
    "CdistBackward": ("cdist", "d/dx |x - y| is undefined at x = y"),
}


def base_name(op: str) -> str:
    """``"aten.log.default"`` -> ``"log"``; ``"log_"`` -> ``"log"``; ``"np.exp"`` -> ``"exp"``."""
    op = op.removesuffix(" (in place)")
    name = op.split(".")[1] if op.startswith("aten.") else op.rsplit(".", 1)[-1]
    if name.endswith("_") and not name.startswith("_"):
        name = name[:-1]
    return name


def fix_for(op: str, **fields: Any) -> str:
    """The suggested fix for a non-finite value produced by `op` (a base name), or ``""``."""
    name = base_name(op)
    key = _ALIASES.get(name, name)
    text = _FIXES.get(key, "")
    if text:
        try:
            return text.format(**{"dtype": "the dtype", "maxabs": "?", "fmax": "?", **fields})
        except (KeyError, IndexError):  # pragma: no cover - a template with an unknown field
            return text
    return ""


def domain_of(op: str) -> tuple[str, str] | None:
    name = base_name(op)
    return _DOMAIN.get(name)


def backward_fix(node_name: str | None) -> tuple[str, str] | None:
    """(forward function, why its derivative blows up) for an autograd node name."""
    if not node_name:
        return None
    stem = node_name.rstrip("0123456789")
    return _BACKWARD_FIXES.get(stem)


def double_where_example(fn: str) -> str:
    safe = {"log": "1.0", "log2": "1.0", "log10": "1.0", "sqrt": "1.0", "rsqrt": "1.0",
            "div": "1.0", "reciprocal": "1.0", "acos": "0.0", "asin": "0.0", "atanh": "0.0",
            "xlogy": "1.0", "pow": "1.0"}.get(fn, "1.0")
    call = f"torch.{fn}(torch.where(ok, x, {safe}))"
    return (f"the double-where trick: ok = <your condition>; y = torch.where(ok, {call}, 0.0) -- "
            f"the inner where keeps {fn} away from the bad points, so its gradient there is "
            f"finite and the outer where zeroes it")
