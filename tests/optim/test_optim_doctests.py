"""The examples in numdl.optim's docstrings run and print what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest

# numdl.optim.constrained and its submodules: test_optim_constrained.py
MODULES = ["__init__", "critical", "derivatives", "driver", "first_order", "problems", "rates",
           "schedules", "second_order", "trajectory", "transforms", "validation"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module("numdl.optim" if name == "__init__" else f"numdl.optim.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_doctests_exist():
    total = 0
    for name in MODULES[1:]:
        module = importlib.import_module(f"numdl.optim.{name}")
        total += doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE).attempted
    assert total >= 30
