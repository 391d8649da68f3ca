"""The tutorial's table of contents, in syllabus order.

One entry per chapter: its number, the notebook file (if it is written yet),
its title, one line on what it teaches, and the module holding its exercises.
The launcher, the home page and the tests all read this list, so a chapter
exists in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = [
    "CHAPTERS",
    "HOME_SLUG",
    "Chapter",
    "available_chapters",
    "chapter_by_slug",
    "notebook_dir",
    "resolve",
]


@dataclass(frozen=True)
class Chapter:
    number: str  # "1", "2a", ...
    slug: str  # notebook file name without .py
    title: str
    summary: str
    syllabus: str  # the syllabus section it covers
    exercises_module: str | None = None

    @property
    def filename(self) -> str:
        return f"{self.slug}.py"

    @property
    def path(self) -> Path:
        return notebook_dir() / self.filename

    @property
    def available(self) -> bool:
        return self.path.is_file()


CHAPTERS: tuple[Chapter, ...] = (
    Chapter("1", "01_why_numerics", "Why numerical computation matters",
            "Real-number algorithms on finite floats: underflowing products, sensitive solutions, "
            "silent failures in training.", "1", "numdl.exercises.chapter01"),
    Chapter("2a", "02a_overflow_underflow", "Overflow and underflow",
            "Where exp overflows in each format, from float64 down to fp8, and why underflow "
            "breaks divisions and logs.", "2.1", "numdl.exercises.chapter02a"),
    Chapter("2b", "02b_rounding", "Rounding errors",
            "Machine epsilon, catastrophic cancellation, and compensated summation against "
            "the exact answer.", "2.2", "numdl.exercises.chapter02b"),
    Chapter("2c", "02c_conditioning", "Poor conditioning",
            "Condition numbers: how much a tiny change of the input can move the answer.",
            "2.3", "numdl.exercises.chapter02c"),
    Chapter("3a", "03a_gradient_descent", "Gradient descent and the learning rate",
            "Step sizes that crawl, converge or diverge; schedules; AdaGrad, RMSprop and Adam.",
            "3.1", "numdl.exercises.chapter03a"),
    Chapter("3b", "03b_critical_points", "Critical points, Jacobian and Hessian",
            "Minima, maxima and saddles read from the Hessian's eigenvalues.", "3.2",
            "numdl.exercises.chapter03b"),
    Chapter("3c", "03c_newton", "Newton's method and quasi-Newton methods",
            "Curvature-aware steps: Newton, BFGS and L-BFGS against gradient descent.", "3.3",
            "numdl.exercises.chapter03c"),
    Chapter("3d", "03d_constrained", "Constrained optimization and KKT",
            "The generalized Lagrangian, the KKT conditions, and weight decay as a norm constraint.",
            "3.4", "numdl.exercises.chapter03d"),
    Chapter("4", "04_stable_softmax", "Softmax, log-sum-exp and the log domain",
            "The max-shift trick derived, log_softmax, working in log space, and what epsilon costs.",
            "4", "numdl.exercises.chapter04"),
    Chapter("5a", "05a_cross_entropy", "Stable cross-entropy",
            "Cross-entropy from logits, never from probabilities; masked and confident classes.",
            "5.1", "numdl.exercises.chapter05a"),
    Chapter("5b", "05b_least_squares", "Linear least squares",
            "Normal equations against QR and SVD: losing twice the digits to conditioning.",
            "5.2", "numdl.exercises.chapter05b"),
    Chapter("5c", "05c_batch_norm", "Batch normalization",
            "Epsilon, noisy small-batch statistics, and running variance done right (Welford).",
            "5.3", "numdl.exercises.chapter05c"),
    Chapter("6", "06_debugging", "Best practices and debugging",
            "Finding the operation that made the first NaN, gradient checking, the common pitfalls.",
            "6", "numdl.exercises.chapter06"),
    Chapter("7", "07_mixed_precision", "Mixed precision",
            "float16, bfloat16 and fp8 against real activations and gradients; loss scaling; "
            "the precision audit; when bfloat16 wins.",
            "beyond", "numdl.exercises.chapter07"),
)

HOME_SLUG = "00_home"


def notebook_dir() -> Path:
    """The folder holding the chapter notebooks, inside the installed package."""
    return Path(str(resources.files("numdl.tutorial")))


def available_chapters() -> tuple[Chapter, ...]:
    """Chapters whose notebooks are written and shipped."""
    return tuple(c for c in CHAPTERS if c.available)


def chapter_by_slug(slug: str) -> Chapter:
    for chapter in CHAPTERS:
        if chapter.slug == slug:
            return chapter
    raise ValueError(f"no chapter with slug {slug!r}")


def resolve(name: str) -> Chapter:
    """Find a chapter by number ("2a"), slug ("02a_overflow_underflow") or file name.

    Raises ValueError listing the written chapters when nothing matches.
    """
    key = name.strip().lower().removesuffix(".py")
    for chapter in CHAPTERS:
        if key in (chapter.number.lower(), chapter.slug, chapter.slug.split("_", 1)[0],
                   chapter.number.lower().zfill(2)):
            if not chapter.available:
                raise ValueError(f"chapter {chapter.number} ({chapter.title}) is not written yet")
            return chapter
    names = ", ".join(c.number for c in available_chapters())
    raise ValueError(f"unknown chapter {name!r}; choose one of: {names}")
