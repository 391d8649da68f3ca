"""Speed of numdl's logsumexp, softmax, log_softmax and cross_entropy beside NumPy, SciPy and PyTorch.

Usage::

    python benchmarks/speed.py            # shapes (1024, 32000) and (1, 10**7)
    python benchmarks/speed.py --quick    # shapes (256, 32000) and (1, 10**6), fewer repeats

For float32 and float64 inputs, reducing over the last axis, it prints each implementation's
median time over several runs (all measured in this one run, interleaved), the input read per
second (GB/s of ``x.nbytes / time``), and numdl's speed relative to each anchor (``> 1``: numdl
is faster).  Anchors: the NumPy max-shift (``a + log(sum(exp(x - a)))``, in the input's dtype),
``scipy.special``, and ``torch`` on CPU (``torch.from_numpy``, no copy; its own thread count).
The cross-entropy anchors are the mean of ``-log_softmax(x)[t]`` (NumPy, SciPy) and
``torch.nn.functional.cross_entropy``.  Last, the cost of a call on 10 elements (medians of many
calls): the per-call overhead.

numdl runs its compiled kernels (``numdl._kernels``; the instruction-set variant in use is
printed) on up to ``os.cpu_count()`` threads; the thread count is printed, and the load average
before the run (other processes on the machine take cores from the threads).  ``--numpy-kernel``
adds a column for numdl's pure-NumPy kernel (what runs where the extension did not build),
measured in the same run: the before and after of the compiled kernels; ``--variant generic`` or
``--variant avx2`` times another instruction-set build of them.  ``NUMDL_NUM_THREADS=1`` in the
environment measures numdl on one core.  The last line counts the rows numdl certified (float32
logsumexp near a result of 0: see numdl._engine.certify) in all the calls timed, and by which path.
This is a benchmark, not a test: nothing here is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import scipy
import scipy.special as sp

import numdl
from numdl._engine import certify, config

kernels = config.settings.kernels

# PyTorch's OpenMP threads spin for a while after each call, taking the cores from whatever runs
# next; with runs interleaved that would slow the next implementation down.  Passive waiting
# (set before torch is imported) makes them sleep at once.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover
    torch = None


def max_shift_logsumexp(x):
    a = np.max(x, axis=-1, keepdims=True)
    return (a + np.log(np.sum(np.exp(x - a), axis=-1, keepdims=True)))[..., 0]


def max_shift_softmax(x):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def max_shift_log_softmax(x):
    a = np.max(x, axis=-1, keepdims=True)
    d = x - a
    return d - np.log(np.sum(np.exp(d), axis=-1, keepdims=True))


def gather_mean(ls, t):
    return -np.mean(np.take_along_axis(ls, t[:, None], axis=-1))


def numpy_kernel(fn: Callable[[], object]) -> Callable[[], object]:
    """`fn` run on numdl's pure-NumPy kernel (as with NUMDL_PURE_NUMPY=1)."""

    def call():
        with config.override(kernels=None):
            return fn()

    return call


def implementations(
    x: np.ndarray, t: np.ndarray, with_numpy_kernel: bool = False
) -> dict[str, dict[str, Callable[[], object]]]:
    xt = torch.from_numpy(x) if torch is not None else None
    tt = torch.from_numpy(t) if torch is not None else None
    table = {
        "logsumexp": {
            "numdl": lambda: numdl.logsumexp(x, axis=-1),
            "numpy max-shift": lambda: max_shift_logsumexp(x),
            "scipy.special": lambda: sp.logsumexp(x, axis=-1),
            "torch": lambda: torch.logsumexp(xt, -1),
        },
        "softmax": {
            "numdl": lambda: numdl.softmax(x),
            "numpy max-shift": lambda: max_shift_softmax(x),
            "scipy.special": lambda: sp.softmax(x, axis=-1),
            "torch": lambda: torch.softmax(xt, -1),
        },
        "log_softmax": {
            "numdl": lambda: numdl.log_softmax(x),
            "numpy max-shift": lambda: max_shift_log_softmax(x),
            "scipy.special": lambda: sp.log_softmax(x, axis=-1),
            "torch": lambda: torch.log_softmax(xt, -1),
        },
        "cross_entropy": {
            "numdl": lambda: numdl.cross_entropy(x, t),
            "numpy max-shift": lambda: gather_mean(max_shift_log_softmax(x), t),
            "scipy.special": lambda: gather_mean(sp.log_softmax(x, axis=-1), t),
            "torch": lambda: F.cross_entropy(xt, tt),
        },
    }
    if torch is None:
        for fns in table.values():
            del fns["torch"]
    if with_numpy_kernel:
        for fns in table.values():
            fns[NUMPY_KERNEL] = numpy_kernel(fns["numdl"])
    return table


NUMPY_KERNEL = "numdl numpy-kernel"


def measure(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds per implementation; the runs are interleaved so that a busy moment of the
    machine hits every implementation alike."""
    for fn in fns.values():
        fn()  # warm up: page in the input, start numdl's threads and torch's
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def overhead(fns: dict[str, Callable[[], object]], calls: int) -> dict[str, float]:
    out = {}
    for name, fn in fns.items():
        fn()
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            runs.append((time.perf_counter() - start) / calls)
        out[name] = statistics.median(runs)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller shapes, fewer repeats")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per cell (median)")
    parser.add_argument(
        "--numpy-kernel", action="store_true", help="also time numdl's pure-NumPy kernel"
    )
    parser.add_argument(
        "--variant",
        choices=kernels.variants() if kernels else [],
        help="the compiled kernels' instruction-set build (default: the best this CPU runs)",
    )
    args = parser.parse_args(argv)
    if args.variant:
        kernels.set_variant(args.variant)
    repeats = args.repeats or (3 if args.quick else 9)
    shapes = [(256, 32000), (1, 10**6)] if args.quick else [(1024, 32000), (1, 10**7)]
    rng = np.random.default_rng(0)
    print(
        f"numpy {np.__version__}, scipy {scipy.__version__}, "
        f"torch {torch.__version__ + f' ({torch.get_num_threads()} threads)' if torch else 'not installed'}; "
        f"numdl threads: {config.settings.threads} of os.cpu_count() = {os.cpu_count()}, kernels: "
        f"{'compiled (' + kernels.variant() + ')' if kernels else 'pure NumPy'}; "
        f"median of {repeats} runs; load average {os.getloadavg()[0]:.2f}"
    )
    certify.reset_counts()
    anchors = ["numpy max-shift", "scipy.special"] + (["torch"] if torch is not None else [])
    if args.numpy_kernel:
        anchors.append(NUMPY_KERNEL)
    widths = {a: max(16, len(a) + 5) for a in anchors}
    header = (
        f"{'function':13s} {'shape':>14s} {'dtype':8s} {'numdl ms':>9s} {'GB/s':>6s}"
        + "".join(f"{a + ' ms':>{widths[a]}s}" for a in anchors)
        + "".join(f"{'vs ' + a:>{widths[a]}s}" for a in anchors)
    )
    print(header)
    worst_vs_scipy = []
    for shape in shapes:
        for dtype in (np.float32, np.float64):
            x = rng.standard_normal(shape).astype(dtype)
            t = rng.integers(0, shape[1], shape[0])
            for name, fns in implementations(x, t, args.numpy_kernel).items():
                med = measure(fns, repeats)
                ours = med["numdl"]
                line = (
                    f"{name:13s} {shape!s:>14s} {np.dtype(dtype).name:8s} {ours * 1e3:9.1f}"
                    f" {x.nbytes / ours / 1e9:6.2f}"
                    + "".join(f"{med[a] * 1e3:{widths[a]}.1f}" for a in anchors)
                    + "".join(f"{med[a] / ours:{widths[a] - 1}.2f}x" for a in anchors)
                )
                print(line, flush=True)
                worst_vs_scipy.append(
                    (med["scipy.special"] / ours, name, shape, np.dtype(dtype).name)
                )
    print()
    small = rng.standard_normal(10)
    small_t = np.array([3])
    small_fns = {
        "logsumexp": (lambda: numdl.logsumexp(small), lambda: sp.logsumexp(small)),
        "softmax": (lambda: numdl.softmax(small), lambda: sp.softmax(small)),
        "log_softmax": (lambda: numdl.log_softmax(small), lambda: sp.log_softmax(small)),
        "cross_entropy": (
            lambda: numdl.cross_entropy(small[None, :], small_t),
            lambda: gather_mean(sp.log_softmax(small[None, :], axis=-1), small_t),
        ),
    }
    calls = 2000 if args.quick else 20000
    print(
        f"{'10 elements, float64':24s} {'numdl us':>9s} {'scipy.special us':>17s} {'torch us':>9s}"
    )
    for name, (ours, theirs) in small_fns.items():
        fns = {"numdl": ours, "scipy": theirs}
        if torch is not None:
            st = torch.from_numpy(small)
            torch_call = {
                "logsumexp": lambda st=st: torch.logsumexp(st, -1),
                "softmax": lambda st=st: torch.softmax(st, -1),
                "log_softmax": lambda st=st: torch.log_softmax(st, -1),
                "cross_entropy": lambda st=st: F.cross_entropy(
                    st[None, :], torch.from_numpy(small_t)
                ),
            }[name]
            fns["torch"] = torch_call
        res = overhead(fns, calls)
        print(
            f"{name:24s} {res['numdl'] * 1e6:9.1f} {res['scipy'] * 1e6:17.1f}"
            f" {res.get('torch', float('nan')) * 1e6:9.1f}"
        )
    ratio, name, shape, dtype = min(worst_vs_scipy)
    print(f"\nslowest against scipy.special: {ratio:.2f}x ({name}, {shape}, {dtype})")
    print(certified_line())
    return 0


def certified_line() -> str:
    """The rows numdl certified since the counters were reset, and by which path."""
    c = certify.counts()
    return (
        f"numdl rows certified: {c['rows']} (double-double {c['double_double']}, "
        f"decimal {c['decimal']})"
    )


if __name__ == "__main__":
    sys.exit(main())
