"""The wheel ships every notebook and exercise module the catalog names, and the compiled kernels."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

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
