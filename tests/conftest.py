"""Shared fixtures and settings.

- Every test gets its own NUMDL_HOME, so no test touches a learner's real progress.
- Under CI (``CI`` set) Hypothesis is derandomized: the same examples every run, so a red
  build means a regression, not an unlucky draw.  Locally it explores new examples each run.
- ``make test`` sets ``NUMDL_REQUIRE_TORCH=1``: the PyTorch tests must run there, so a missing
  torch is an error instead of a silent skip.  Likewise ``NUMDL_REQUIRE_KERNELS=1``: the compiled
  kernels (``numdl._kernels``, optional for users) must have built.
"""

from __future__ import annotations

import importlib
import os

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


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


@pytest.fixture(autouse=True)
def numdl_home(tmp_path, monkeypatch):
    home = tmp_path / "numdl-home"
    monkeypatch.setenv("NUMDL_HOME", str(home))
    return home
