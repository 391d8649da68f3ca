"""The wheel ships every notebook and exercise module the catalog names, and the compiled kernels."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import numdl
from numdl import reference
from numdl.reference import condition_number, ulp_error
from numdl.tutorial.catalog import HOME_SLUG, available_chapters

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    (path,) = out.glob("numdl-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_contains_every_notebook_and_exercise_module(wheel):
    names = set(wheel.namelist())
    assert f"numdl/tutorial/{HOME_SLUG}.py" in names
    for chapter in available_chapters():
        assert f"numdl/tutorial/{chapter.filename}" in names
        module = chapter.exercises_module.replace(".", "/") + ".py"
        assert module in names
    assert "numdl/exercises/_child.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "numdl = numdl.cli:main" in wheel.read(entry_points).decode()


def test_wheel_carries_the_compiled_kernels(wheel):
    """pip builds numdl._kernels into the wheel (a C compiler is there wherever make test runs;
    without one the build is optional and numdl falls back to its NumPy kernel)."""
    names = wheel.namelist()
    assert any(n.startswith("numdl/_kernels") and n.endswith((".so", ".pyd")) for n in names)
    assert "numdl/_kernels.c" not in names  # sources go in the sdist, not the wheel


def test_manifest_ships_the_kernel_sources():
    manifest = (ROOT / "MANIFEST.in").read_text()
    for source in ("_kernels.c", "_kernels_impl.h", "_exp_table.h"):
        assert f"src/numdl/{source}" in manifest
        assert (ROOT / "src" / "numdl" / source).is_file()


# Run in an interpreter that imports numdl from a wheel built without a C compiler: the answers
# of the kernels' four functions on float32/float64 rows past the small-input path (> 512).
_FALLBACK_SCRIPT = """
import json, sys
import numpy as np
import numdl, numdl._engine.config
out = {"file": numdl.__file__, "kernels": numdl._engine.config.settings.kernels is not None}
try:
    import numdl._kernels
    out["importable"] = True
except ImportError:
    out["importable"] = False
rng = np.random.default_rng(0)
for dtype in ("float32", "float64"):
    x = (rng.standard_normal((3, 700)) * 30).astype(dtype)
    t = rng.integers(0, 700, 3)
    np.save(f"{sys.argv[1]}/x_{dtype}.npy", x)
    for name in ("logsumexp", "softmax", "log_softmax"):
        np.save(f"{sys.argv[1]}/{name}_{dtype}.npy", getattr(numdl, name)(x, axis=-1))
    np.save(f"{sys.argv[1]}/cross_entropy_{dtype}.npy", numdl.cross_entropy(x, t, reduction="none"))
    np.save(f"{sys.argv[1]}/t_{dtype}.npy", t)
print(json.dumps(out))
"""


def test_without_a_c_compiler_numdl_installs_and_gives_the_same_answers(tmp_path):
    """setup.py's fallback: where no C compiler is found the build of numdl._kernels fails, the
    install goes on, and numdl.stable computes with its NumPy kernel, within the same claims."""
    wheels, target, results = tmp_path / "wheels", tmp_path / "site", tmp_path / "results"
    results.mkdir()
    # A copy of the sources: a build/ folder left in the checkout would hold compiled objects.
    source = tmp_path / "numdl-src"
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("*.so", "__pycache__", "*.egg-info"))
    for name in ("setup.py", "pyproject.toml", "MANIFEST.in", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    env = dict(os.environ, CC=str(tmp_path / "no-such-cc"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(wheels), str(source)],
        capture_output=True, text=True, timeout=300, env=env)
    log = build.stdout + build.stderr
    assert build.returncode == 0, log[-3000:]
    assert "building 'numdl._kernels' extension" in log and "no-such-cc" in log, log[-3000:]
    (path,) = wheels.glob("numdl-*.whl")
    assert not any(n.startswith("numdl/_kernels") for n in zipfile.ZipFile(path).namelist())
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                    str(path)], check=True, capture_output=True, timeout=300)
    run = subprocess.run([sys.executable, "-c", _FALLBACK_SCRIPT, str(results)], capture_output=True,
                         text=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=str(target), NUMDL_PURE_NUMPY=""))
    assert run.returncode == 0, run.stderr[-3000:]
    info = json.loads(run.stdout.splitlines()[-1])
    assert info["file"].startswith(str(target))  # the wheel's numdl, not this checkout's
    assert not info["importable"] and not info["kernels"]

    for dtype in ("float32", "float64"):
        x = np.load(results / f"x_{dtype}.npy")
        t = np.load(results / f"t_{dtype}.npy")
        for name in ("logsumexp", "softmax", "log_softmax", "cross_entropy"):
            fallback = np.load(results / f"{name}_{dtype}.npy")
            if name == "cross_entropy":
                here = numdl.cross_entropy(x, t, reduction="none")
                exact = -reference.log_softmax(x, axis=-1, rounded=False)[np.arange(3), t]
                kappa = condition_number("log_softmax", x, axis=-1)[np.arange(3), t]
            else:
                here = getattr(numdl, name)(x, axis=-1)
                exact = getattr(reference, name)(x, axis=-1, rounded=False)
                kappa = condition_number(name, x, axis=-1)
            assert fallback.dtype == here.dtype == x.dtype and fallback.shape == here.shape
            # Both kernels meet the accuracy claim against the exact value: one rounding for
            # float32, 2 max(1, kappa) ULP for float64 (test_stable.py); so they agree within
            # twice that.
            limit = 1.0 if dtype == "float32" else 2.0 * np.maximum(1.0, kappa)
            for got in (fallback, here):
                errors = np.asarray(ulp_error(got, exact), dtype=np.float64)
                assert np.all(errors <= limit), (name, dtype, errors.max())


def _requirements(wheel: zipfile.ZipFile) -> list[str]:
    (meta,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return [line.split(":", 1)[1].strip() for line in wheel.read(meta).decode().splitlines()
            if line.startswith("Requires-Dist:")]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ ;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_the_library_installs_without_the_tutorial(wheel):
    """`pip install numdl` is the library; marimo, plotly and platformdirs come with [tutorial]."""
    requires = _requirements(wheel)
    core = {_name(r) for r in requires if "extra ==" not in r}
    assert core == {"numpy", "scipy", "mpmath", "ml-dtypes", "array-api-compat"}
    tutorial = {_name(r) for r in requires if 'extra == "tutorial"' in r}
    assert tutorial == {"marimo", "plotly", "platformdirs"}


# An interpreter in which marimo, plotly and platformdirs cannot be imported, as after a plain
# `pip install numdl`: the library works and `numdl tutorial` names the extra to install.
_WITHOUT_TUTORIAL = r"""
import importlib.abc, sys

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("marimo", "plotly", "platformdirs"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Absent())
import numpy as np
import numdl, numdl.debug, numdl.floats, numdl.init, numdl.linalg, numdl.losses
import numdl.mixed_precision, numdl.norm, numdl.optim, numdl.reference, numdl.testing
print(float(numdl.logsumexp(np.array([1000.0, 1000.0]))))
from numdl.cli import main
sys.exit(main(["tutorial", "--no-browser"]))
"""


def test_without_the_tutorial_extra_the_library_works_and_the_cli_says_what_is_missing():
    proc = subprocess.run([sys.executable, "-c", _WITHOUT_TUTORIAL], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert float(proc.stdout) == 1000.0 + math.log(2)
    assert "pip install 'numdl[tutorial]'" in proc.stderr and "marimo" in proc.stderr
