"""numdl: numerical computation for deep learning, taught and tested.

The library is the single source of truth for the tutorial: every chapter in
``numdl.tutorial`` imports what it shows from here.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
