"""Helpers for running tutorial notebooks headless in tests (imported by the test modules)."""

from __future__ import annotations

import functools
import importlib.util
from types import SimpleNamespace

from numdl.tutorial.catalog import notebook_dir

__all__ = ["control", "default_run", "html_of", "load_app"]


def load_app(slug: str):
    """The marimo ``app`` of the notebook ``<slug>.py`` shipped in the package."""
    path = notebook_dir() / f"{slug}.py"
    spec = importlib.util.spec_from_file_location(f"numdl_nb_{slug}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


@functools.cache
def default_run(slug: str):
    """``(outputs, defs)`` of the notebook run with its defaults, every cell as ``python
    NN_slug.py`` runs them (``app.run()`` raises what a cell raised).  Computed once per test
    process and shared by the tests that read it: they must not change what it returns."""
    return load_app(slug).run()


def control(value):
    """Stands in for a UI element when a notebook is run with ``app.run(defs=...)``."""
    return SimpleNamespace(value=value)


def html_of(outputs) -> str:
    """The HTML text of a notebook run's outputs, joined."""
    parts = []
    for out in outputs:
        text = getattr(out, "text", None)
        parts.append(text if isinstance(text, str) else repr(out))
    return "\n".join(parts)
