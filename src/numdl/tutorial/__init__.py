"""The interactive tutorial: marimo notebooks numbered in syllabus order.

``numdl tutorial`` serves them (see :mod:`numdl.cli`); :mod:`numdl.tutorial.catalog`
lists them; :mod:`numdl.tutorial.widgets` holds the pieces every chapter shares
(the graded-exercise panel, the code viewer, the takeaways box).
"""

from pathlib import Path

from numdl.debug import register_user_code

__all__: list[str] = []  # the package holds notebooks and submodules, no names of its own

# A notebook's cells are compiled with the notebook's path: a NaN traced in a learner's cell names
# that cell's line, although the notebooks ship inside the numdl package.
register_user_code(Path(__file__).parent)
