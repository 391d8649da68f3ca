"""Overhead of numdl's PyTorch debugging tools against torch.autograd.detect_anomaly.

Usage::

    python benchmarks/debug_overhead.py            # three MLP sizes, 30 repeats
    python benchmarks/debug_overhead.py --quick    # the two smaller sizes, 5 repeats

One training step -- ``zero_grad``, forward, MSE loss, backward (no optimizer update) -- of a tanh
MLP, timed plain and under each tool:

* ``detect_anomaly``: ``torch.autograd.detect_anomaly()`` (records a traceback per autograd node,
  checks backward outputs for NaN);
* ``trace dispatch``: ``numdl.debug.trace_nonfinite(model)`` (every ATen operation, forward and
  backward, NaN and Inf);
* ``trace module``: ``trace_nonfinite(model, mode="module")`` (module outputs and gradients);
* ``audit``: ``numdl.debug.precision_audit`` of the same step (a one-off diagnosis: per-operation
  statistics against four formats, not meant to run every step).

Each context is entered and left around every step, as when wrapping a training step.  The
variants run side by side -- one step of each in turn, repeated -- so that drift of the machine
affects them alike; the table gives the median step time and its ratio to the plain step.

This is a benchmark, not a test: no number here is asserted anywhere.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
import warnings

import torch
from torch import nn

from numdl.debug import precision_audit, trace_nonfinite

SIZES = {  # name: (depth, width, batch)
    "small": (3, 64, 32),
    "medium": (4, 256, 128),
    "large": (6, 1024, 256),
}


def mlp(depth: int, width: int) -> nn.Module:
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.Tanh()]
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def variants(model: nn.Module, x: torch.Tensor, t: torch.Tensor) -> dict:
    def step() -> None:
        model.zero_grad(set_to_none=True)
        loss = nn.functional.mse_loss(model(x), t)
        loss.backward()

    def wrapped(make) -> callable:
        def run() -> None:
            with make():
                step()
        return run

    def audit() -> None:
        precision_audit(model, x, lambda y: nn.functional.mse_loss(y, t))

    return {
        "plain": wrapped(contextlib.nullcontext),
        "detect_anomaly": wrapped(torch.autograd.detect_anomaly),
        "trace dispatch": wrapped(lambda: trace_nonfinite(model)),
        "trace module": wrapped(lambda: trace_nonfinite(model, mode="module")),
        "audit": audit,
    }


def measure(name: str, repeats: int) -> dict[str, float]:
    depth, width, batch = SIZES[name]
    torch.manual_seed(0)
    model = mlp(depth, width)
    x, t = torch.randn(batch, width), torch.randn(batch, 1)
    runs = variants(model, x, t)
    for fn in runs.values():  # warm-up: allocator, first-call costs, caches
        fn()
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(repeats):
        for key, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="two smaller sizes, 5 repeats")
    parser.add_argument("--repeats", type=int, default=None, help="repeats per variant")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="Anomaly Detection has been enabled")
    repeats = args.repeats or (5 if args.quick else 30)
    sizes = ("small", "medium") if args.quick else tuple(SIZES)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; median of {repeats} "
          f"steps (zero_grad + forward + MSE + backward), ratio to the plain step")
    keys = ("plain", "detect_anomaly", "trace dispatch", "trace module", "audit")
    header = f"{'MLP (depth x width, batch)':<28}{'params':>9}" + "".join(
        f"{k:>22}" for k in keys)
    print(header)
    print("-" * len(header))
    for name in sizes:
        depth, width, batch = SIZES[name]
        n_params = depth * (width * width + width) + width + 1
        med = measure(name, repeats)
        base = med["plain"]
        cells = [f"{1e3 * base:>19.2f} ms"]
        for k in keys[1:]:
            cells.append(f"{1e3 * med[k]:>11.2f} ms ({med[k] / base:4.1f}x)")
        label = f"{name} ({depth} x {width}, {batch})"
        print(f"{label:<28}{n_params:>9}" + "".join(f"{c:>22}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
