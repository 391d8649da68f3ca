"""Shared fixtures and settings.

- Every test gets its own NUMDL_HOME, so no test touches a learner's real progress.
- Under CI (``CI`` set) Hypothesis is derandomized: the same examples every run, so a red
  build means a regression, not an unlucky draw.  Locally it explores new examples each run.
  Neither profile has a per-example deadline.
- Tests whose results go through ``numdl.stable``'s kernel dispatch carry the ``kernels`` marker;
  ``make test`` runs them again once per instruction-set build of ``numdl._kernels`` that the CPU
  runs (``NUMDL_KERNEL_VARIANT``) and once on the NumPy kernel (``NUMDL_PURE_NUMPY=1``): see
  ``tools/kernel_paths.py``.  The header of every run names its kernel path.
- ``make test`` sets ``NUMDL_REQUIRE_TORCH=1``: the PyTorch tests must run there, so a missing
  torch is an error instead of a silent skip.  Likewise ``NUMDL_REQUIRE_KERNELS=1``: the compiled
  kernels (``numdl._kernels``, optional for users) must have built.
"""

from __future__ import annotations

import importlib
import os

import pytest
from hypothesis import settings

# No per-example deadline anywhere: `make test` runs two pytest processes at once on machines
# of two cores, and a deadline would turn a busy machine into a failure.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


# Optional parts that `make test` requires, so that their tests cannot skip silently there:
# (environment variable, module, what to do when it is missing).
REQUIRED = [
    ("NUMDL_REQUIRE_TORCH", "torch", "install the torch extra (pip install -e '.[test,torch]'; "
     "torch==2.13.0)"),
    ("NUMDL_REQUIRE_KERNELS", "numdl._kernels", "numdl._kernels did not build: reinstall with a "
     "C compiler (pip install -e .) and read the build log"),
]


def pytest_configure(config):
    for variable, module, remedy in REQUIRED:
        if os.environ.get(variable):
            try:
                importlib.import_module(module)
            except ImportError as exc:  # pragma: no cover - depends on the environment
                raise pytest.UsageError(
                    f"{variable} is set but {module} is not importable: {remedy}"
                ) from exc


# The modules whose tests call the public stable functions and losses, which dispatch to the
# compiled kernels (each variant), the NumPy kernel or the small-input path.
KERNEL_MODULES = {"test_stable.py", "test_losses.py", "test_engine.py", "test_ch04.py", "test_ch05a.py"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in KERNEL_MODULES:
            item.add_marker(pytest.mark.kernels)


def kernel_path() -> str:
    """Which kernel numdl.stable uses in this run, in words."""
    from numdl._engine import config

    kernels = config.settings.kernels
    if kernels is None:
        why = "NUMDL_PURE_NUMPY=1" if os.environ.get("NUMDL_PURE_NUMPY", "") not in ("", "0") \
            else "numdl._kernels did not build"
        return f"the NumPy kernel ({why})"
    return f"compiled, variant {kernels.variant()} (this CPU runs {', '.join(kernels.variants())})"


def pytest_report_header(config):
    return f"numdl kernels: {kernel_path()}"


@pytest.fixture(autouse=True)
def numdl_home(tmp_path, monkeypatch):
    home = tmp_path / "numdl-home"
    monkeypatch.setenv("NUMDL_HOME", str(home))
    return home
