"""Run the kernel tests on every other kernel path this machine has (``make test`` runs them).

The main test run uses the best instruction-set build of ``numdl._kernels`` the CPU runs.  This
runs the tests marked ``kernels`` (the public stable functions and losses, see tests/conftest.py)
again once per other build (``NUMDL_KERNEL_VARIANT=generic``, ``avx2``, ...) and once on the
pure-NumPy kernel (``NUMDL_PURE_NUMPY=1``), so that a CPU without AVX-512 tests its own build and
every machine tests the fallback used where no C compiler is found.

    python tools/kernel_paths.py [pytest arguments]

Exit status: 0 when every run passed, else the first failing run's status.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time


def kernel_paths() -> list[tuple[str, dict[str, str]]]:
    """(name, environment) of each kernel path other than the one a plain run uses."""
    try:
        from numdl import _kernels
    except ImportError:  # no compiled kernels here: the main run already tested the NumPy kernel
        return []
    best = _kernels.variant()
    # NUMDL_TEST_VARIANT_RERUN: tests whose other paths do not depend on the build skip them
    runs = [(f"compiled, variant {v}", {"NUMDL_KERNEL_VARIANT": v, "NUMDL_TEST_VARIANT_RERUN": "1"})
            for v in _kernels.variants() if v != best]
    return [*runs, ("the NumPy kernel", {"NUMDL_PURE_NUMPY": "1"})]


def main(argv: list[str]) -> int:
    results = []
    for name, env in kernel_paths():
        print(f"\n== kernel tests on {name}: {' '.join(f'{k}={v}' for k, v in env.items())}",
              flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, "-m", "pytest", "-m", "kernels", "-q", *argv],
                               env={**os.environ, **env})
        if code == 5:  # pytest collected nothing: the marker lost its tests
            print("kernel_paths: no test is marked 'kernels'", file=sys.stderr)
            code = 1
        results.append((name, code, time.monotonic() - started))
    print("\nkernel path                        result   seconds")
    for name, code, seconds in results:
        print(f"{name:<34} {'passed' if code == 0 else f'exit {code}':<8} {seconds:7.1f}")
    return next((code for _, code, _ in results if code), 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
