"""Helpers for running tutorial notebooks headless in tests (imported by the test modules)."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

from numdl.tutorial.catalog import notebook_dir

__all__ = ["control", "html_of", "load_app"]


def load_app(slug: str):
    """The marimo ``app`` of the notebook ``<slug>.py`` shipped in the package."""
    path = notebook_dir() / f"{slug}.py"
    spec = importlib.util.spec_from_file_location(f"numdl_nb_{slug}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


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
