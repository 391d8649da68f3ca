"""The kernel paths that ``make test`` reruns the kernel tests on (tools/run_tests.py runs them).

The main test run uses the best instruction-set build of ``numdl._kernels`` the CPU runs.  The
tests marked ``kernels`` (the public stable functions and losses, see tests/conftest.py) run
again once per other build (``NUMDL_KERNEL_VARIANT=generic``, ``avx2``, ...) and once on the
pure-NumPy kernel (``NUMDL_PURE_NUMPY=1``), so that a CPU without AVX-512 tests its own build and
every machine tests the fallback used where no C compiler is found.  One of them by hand:

    NUMDL_KERNEL_VARIANT=avx2 NUMDL_TEST_VARIANT_RERUN=1 python -m pytest -m kernels
"""

from __future__ import annotations


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
