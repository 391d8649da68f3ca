"""The interactive tutorial: marimo notebooks numbered in syllabus order.

``numdl tutorial`` serves them (see :mod:`numdl.cli`); :mod:`numdl.tutorial.catalog`
lists them; :mod:`numdl.tutorial.widgets` holds the pieces every chapter shares
(the graded-exercise panel, the code viewer, the takeaways box).
"""
