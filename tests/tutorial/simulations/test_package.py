"""Conventions every simulation module keeps: a chapter docstring, rng not seed (its true __all__
is checked with every module's by tests/test_layers.py)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpy as np
import pytest

import numdl.tutorial.simulations as simulations

MODULES = sorted(m.name for m in pkgutil.iter_modules(simulations.__path__))


def test_every_chapter_module_is_here():
    assert {"_common", "ch01", "ch02a", "ch02b", "ch02c", "ch03a", "ch03b", "ch03c", "ch03d",
            "ch04", "ch05a", "ch05b", "ch05c", "ch06", "ch07"} == set(MODULES)


@pytest.mark.parametrize("name", [m for m in MODULES if m.startswith("ch")])
def test_the_docstring_names_the_chapter(name):
    module = importlib.import_module(f"numdl.tutorial.simulations.{name}")
    number = name[2:].lstrip("0")
    assert module.__doc__.startswith(f"Chapter {number} ("), module.__doc__[:40]


@pytest.mark.parametrize("name", [m for m in MODULES if m.startswith("ch")])
def test_no_function_takes_a_seed_and_rng_is_keyword_only(name):
    module = importlib.import_module(f"numdl.tutorial.simulations.{name}")
    for fname in module.__all__:
        fn = getattr(module, fname)
        if not inspect.isfunction(fn):
            continue
        params = inspect.signature(fn).parameters
        assert "seed" not in params, fname
        if "rng" in params:
            assert params["rng"].kind is inspect.Parameter.KEYWORD_ONLY, fname


def test_check_rng_names_the_argument():
    from numdl.tutorial.simulations._common import check_rng

    g = np.random.default_rng(0)
    assert check_rng(g) is g
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator.*got int"):
        check_rng(0)
