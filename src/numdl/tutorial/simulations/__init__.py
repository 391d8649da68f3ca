"""The simulations behind the tutorial's live experiments, one module per chapter.

Each function computes one experiment of a chapter from its controls and returns plain arrays and
numbers; the notebook only draws them, and the figures its prose quotes come from the same tested
values.  Anything here that a practitioner would reuse belongs in the library instead
(:mod:`numdl.optim.transforms`, :mod:`numdl.mixed_precision`, :mod:`numdl.init`,
:mod:`numdl.linalg`); these modules import the library, never the other way round.  Every function
that draws random numbers takes ``rng: numpy.random.Generator``.
"""

__all__: list[str] = []  # the chapter modules are imported by name: ``from ... import ch02a``
