"""The tutorial in a real browser: pages load and render offline, controls and exercises work.

Markers of each chapter's computed outputs are asserted, not just the absence of
errors: under ``marimo run`` a failing cell shows nothing at all.
"""

from __future__ import annotations

import os
import re
import signal
import time

import pytest
from playwright.sync_api import expect

from numdl.exercises import ProgressStore
from numdl.exercises.chapter01 import PERPLEXITY, SEQUENCE_LOG_PROB
from numdl.tutorial.catalog import CHAPTERS, HOME_SLUG, available_chapters
from numdl.tutorial.simulations import ch01
from servers import (
    alive,
    command_line,
    descendants,
    learner_processes,
    port_is_open,
    start_tutorial,
    wait_for,
)

pytestmark = pytest.mark.browser

# plotly's renderer in marimo asks a CDN for MathJax; it is aborted and the page must still render.
ALLOWED_BLOCKED = re.compile(r"^https://cdn\.jsdelivr\.net/npm/mathjax")

# Text that each chapter computes and shows; a cell that raised would leave it out.
EXPECTED = {
    "01_why_numerics": [
        "1 · Why numerical computation matters",
        "becomes exactly 0 at length",
        "condition number κ(A)",
        "random critical points are minima",
        "the activations become",
        "No NaN appeared and no warning was raised",
        "Exercise: The log-probability of a long sequence",
        "Exercise: Perplexity without underflow",
        "Key takeaways",
    ],
    "02a_overflow_underflow": [
        "2a · Overflow and underflow",
        "overflow to inf",
        "largest x with finite e^x",
        "naive softmax =",
        "exact value of the bits",
        "Once p underflows",
        "Exercise: The largest x with a finite exp(x)",
        "Exercise: A ratio of exponentials that never overflows",
        "Key takeaways",
    ],
    "02b_rounding": [
        "2b · Rounding errors",
        "evaluates to",
        "exact sum, rounded once",
        "exact value stored",
        "the rewrite stays within",
        "log1p(x)",
        "Smallest first is",
        "Exercise: A compensated sum",
        "Key takeaways",
    ],
    "02c_conditioning": [
        "2c · Poor conditioning",
        "the red arrow is exactly",
        "the largest measured amplification is",
        "are lost to conditioning",
        "error of inv(H) @ b",
        "the backward errors are",
        "The fitted slope of steps against",
        "Exercise: The condition number, and the digits it leaves",
        "Exercise: Solve, don't invert",
        "Key takeaways",
    ],
    "05b_least_squares": [
        "5b · Linear least squares",
        "Slopes fitted live",
        "fitted slope",
        "Cholesky breaks down from",
        "Cholesky is expected to break down near",
        "not numerically positive definite",
        "default rcond",
        "The literal formula is",
        "Exercise: Least squares to six digits",
        "Exercise: What rcond does: the truncated SVD solution",
        "Key takeaways",
    ],
    "05c_batch_norm": [
        "5c · Batch normalization",
        "is stored as",
        "The output std falls to",
        "of the variance estimates lie between",
        "Welford/Chan, state in float32",
        "the naive estimate was negative",
        "In eval mode it gets",
        "Exercise: A running variance for hostile streams",
        "Exercise: Batch norm for float16 activations",
        "Key takeaways",
    ],
    "04_stable_softmax": [
        "4 · Softmax, log-sum-exp and the log domain",
        "Start from the sum:",
        "The shifted sum is",
        "worst error (ULP)",
        "Across magnitudes 1 to 1200",
        "numdl.logaddexp",
        "log(p + eps) computed",
        "Exercise: log_softmax that keeps the confident class",
        "Key takeaways",
    ],
    "05a_cross_entropy": [
        "5a · Stable cross-entropy",
        "the exact loss is",
        "a confidently right prediction is reported as a loss of 0",
        "numdl.binary_cross_entropy_with_logits",
        "smoothed loss",
        "mean loss",
        "Exercise: Cross-entropy from logits",
        "Key takeaways",
    ],
    "03a_gradient_descent": [
        "3a · Gradient descent and the learning rate",
        "Predicted contraction per step",
        "contraction at the best step",
        "best contraction per step",
        "The first six steps ε*",
        "The exact steps contract the error by",
        "relative to constant",
        "Lowest final loss:",
        "Exercise: The fastest fixed learning rate on a quadratic",
        "Exercise: One Adam step",
        "Key takeaways",
    ],
    "03b_critical_points": [
        "3b · Critical points, Jacobian and Hessian",
        "which is what this point is",
        "test, tolerance 1e-6",
        "random critical points are minima",
        "max error / max entry",
        "best step on the curve",
        "Exercise: Classify a critical point from its Hessian",
        "Exercise: Choose a finite-difference step",
        "Key takeaways",
    ],
    "03c_newton": [
        "3c · Newton's method and quasi-Newton methods",
        "Newton reaches the minimum in 1 step",
        "Newton's last steps",
        "ends at",
        "Largest size measured: n =",
        "numbers stored besides x, g",
        "Exercise: A Newton step: solve, never invert, and never climb",
        "Exercise: The BFGS update, with its curvature check",
        "Key takeaways",
    ],
    "03d_constrained": [
        "3d · Constrained optimization and KKT",
        "both constraints are active",
        "The KKT residuals of the exact solution are",
        "multiplier estimate λ =",
        "All three on the same problem",
        "The constrained run",
        "every coordinate should have shrunk to",
        "Exercise: Which KKT condition fails?",
        "Exercise: The multiplier of one constraint",
        "Key takeaways",
    ],
    "06_debugging": [
        "6 · Best practices and debugging",
        "relative bias",
        "clipped by value it is",
        "the activation std goes from",
        "detect_anomaly looks for NaN only",
        "After 60 halvings",
        "numdl.debug.gradcheck",
        "Six common pitfalls, each computed",
        "Exercise: The first layer whose activations are not finite",
        "Exercise: Clip by global norm, and refuse a NaN",
        "Key takeaways",
    ],
    "07_mixed_precision": [
        "7 · Mixed precision",
        "smallest subnormal",
        "of this layer's gradients become 0",
        "Without scaling the loss stalls at",
        "Dynamic scaling skipped",
        "Reading it off: in float16",
        "1 + 1/256",
        "Exercise: One step of a dynamic loss scaler",
        "Key takeaways",
    ],
}
PLOTS = {"07_mixed_precision": 4, "06_debugging": 3, "03d_constrained": 6, "03a_gradient_descent": 8, "03b_critical_points": 5, "03c_newton": 6, "02c_conditioning": 6, "05b_least_squares": 3, "05c_batch_norm": 4, "04_stable_softmax": 1, "05a_cross_entropy": 1, "01_why_numerics": 4, "02a_overflow_underflow": 3, "02b_rounding": 2}
TIMEOUT = 60_000


def open_page(page, server, slug: str, marker: str):
    page.goto(server.url(slug))
    page.get_by_text(marker).first.wait_for(timeout=TIMEOUT)


def assert_no_errors(page):
    assert page.locator(".marimo-error").count() == 0
    assert page.get_by_text("An internal error occurred").count() == 0


def assert_offline(page):
    leaked = [u for u in page.external if not ALLOWED_BLOCKED.match(u)]
    assert leaked == [], f"requests left loopback: {leaked}"


def test_every_chapter_is_checked_here():
    assert {c.slug for c in available_chapters()} <= set(EXPECTED)


def test_home_page_lists_the_syllabus_and_opens_chapters(page, tutorial_server, screenshot):
    open_page(page, tutorial_server, HOME_SLUG, "your progress")
    rows = page.locator("table[data-testid='syllabus'] tbody tr")
    assert rows.count() == len(CHAPTERS)
    for ch in CHAPTERS:
        assert page.get_by_text(ch.title, exact=True).count() >= 1
    screenshot(page, HOME_SLUG)
    assert_no_errors(page)
    assert_offline(page)
    page.get_by_role("link", name=CHAPTERS[0].title).click()
    # the chapter's own heading (its full render is test_chapter_renders_every_output_offline)
    page.locator("h1", has_text=CHAPTERS[0].title).first.wait_for(timeout=TIMEOUT)
    assert "file=01_why_numerics.py" in page.url


@pytest.mark.parametrize("slug", [c.slug for c in available_chapters()])
def test_chapter_renders_every_output_offline(page, tutorial_server, slug, screenshot):
    markers = EXPECTED[slug]
    open_page(page, tutorial_server, slug, markers[-1])
    for marker in markers:
        assert page.get_by_text(marker).count() >= 1, f"missing output: {marker!r}"
    assert page.locator(".katex").count() >= 5, "math is not typeset"
    page.locator(".js-plotly-plot").nth(PLOTS[slug] - 1).wait_for(timeout=TIMEOUT)
    assert_no_errors(page)
    screenshot(page, slug)
    assert_offline(page)


def _verdict(page):
    return page.get_by_text(re.compile(r"the product of tokens of probability|is still representable"))


def test_moving_a_control_changes_its_output(page, tutorial_server):
    open_page(page, tutorial_server, "01_why_numerics", "becomes exactly 0 at length")
    expected_f32 = ch01.running_product(0.1, 400, "float32").underflow_at
    expected_f64 = ch01.running_product(0.1, 400, "float64").underflow_at
    page.get_by_text(f"becomes exactly 0 at length {expected_f32}").wait_for(timeout=TIMEOUT)
    page.locator("select").first.select_option("float64")
    page.get_by_text(f"becomes exactly 0 at length {expected_f64}").wait_for(timeout=TIMEOUT)
    assert expected_f64 != expected_f32


def _type_code(page, index: int, code: str):
    editor = page.locator(".cm-content").nth(index)
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(code)
    page.locator("body").click(position={"x": 5, "y": 5})  # blur: the editor sends its value


def test_exercise_is_graded_in_the_page_and_progress_persists(page, tutorial_server, screenshot):
    open_page(page, tutorial_server, "01_why_numerics", SEQUENCE_LOG_PROB.title)
    _type_code(page, 0, SEQUENCE_LOG_PROB.start_code)
    page.get_by_role("button", name="Check").first.click()
    page.get_by_text(re.compile(r"\d+ of 10 cases passed")).wait_for(timeout=TIMEOUT)
    reason = page.locator(".numdl-reason").first
    assert "underflow" in reason.inner_text() or "-inf" in reason.inner_text()

    page.get_by_role("button", name="Show a hint").first.click()
    page.get_by_text(SEQUENCE_LOG_PROB.hints[0][:40]).wait_for(timeout=TIMEOUT)

    _type_code(page, 0, SEQUENCE_LOG_PROB.solution)
    page.get_by_role("button", name="Check").first.click()
    page.get_by_text("All 10 cases passed, hostile ones included.").wait_for(timeout=TIMEOUT)
    screenshot(page, "01_why_numerics-exercise-passed")

    # A new session (reload) restores the code and the verdict from $NUMDL_HOME.
    page.reload()
    page.get_by_text("Restored your last answer (passed, 2 checks)").wait_for(timeout=TIMEOUT)
    expect(page.locator(".cm-content").first).to_contain_text("np.errstate", timeout=TIMEOUT)

    open_page(page, tutorial_server, HOME_SLUG, "your progress")
    row = page.locator("tr[data-chapter='1'] td.numdl-progress")
    expect(row).to_have_text(re.compile(r"^1/2 passed"), timeout=TIMEOUT)


def test_runaway_answer_is_contained_while_controls_stay_live(page, tutorial_server):
    open_page(page, tutorial_server, "01_why_numerics", PERPLEXITY.title)
    _type_code(page, 1, "def perplexity(p):\n    while True:\n        pass\n")
    page.get_by_role("button", name="Check").nth(1).click()
    page.get_by_text("Grading…").wait_for(timeout=TIMEOUT)
    started = time.monotonic()
    # While the endless loop runs in its sandbox, a control still updates its output.
    page.locator("select").first.select_option("float16")
    expected = ch01.running_product(0.1, 400, "float16").underflow_at
    page.get_by_text("In float16 the product of tokens", exact=False).first.wait_for(timeout=5_000)
    assert page.get_by_text(f"becomes exactly 0 at length {expected}").count() >= 1
    assert time.monotonic() - started < PERPLEXITY.limits.seconds
    page.get_by_text("did not finish within").wait_for(timeout=TIMEOUT)
    assert_no_errors(page)


# An answer that hangs and leaves two children: one in the grading process group, one that
# detached itself into a new session (out of reach of a kill of the group).
_HANG_WITH_CHILDREN = """import os, time

def perplexity(p):
    if os.fork() == 0:
        time.sleep(120)
        os._exit(0)
    if os.fork() == 0:
        os.setsid()
        time.sleep(120)
        os._exit(0)
    time.sleep(120)
"""


def test_stopping_the_server_mid_grading_leaves_no_learner_process(page, tmp_path):
    home = tmp_path / "home"
    ProgressStore(home).record(SEQUENCE_LOG_PROB.id, SEQUENCE_LOG_PROB.solution, passed=True)
    saved = ProgressStore(home).path.read_bytes()
    server = start_tutorial(home)
    learners: list[int] = []
    below: list[int] = []
    try:
        page.goto(server.url.split("?", 1)[0] + "?file=01_why_numerics.py")
        page.get_by_text(PERPLEXITY.title).first.wait_for(timeout=TIMEOUT)
        _type_code(page, 1, _HANG_WITH_CHILDREN)
        page.get_by_role("button", name="Check").nth(1).click()
        page.get_by_text("Grading…").wait_for(timeout=TIMEOUT)
        learners = wait_for(lambda: len(found := learner_processes(server.proc.pid)) == 3 and found,
                            PERPLEXITY.limits.seconds) or []
        assert len(learners) == 3, learners  # the sandboxed process and its two children
        below = descendants(server.proc.pid)  # marimo and its helpers too
        started = time.monotonic()
        code = server.stop(signal.SIGTERM, timeout=15)
        seconds = time.monotonic() - started
    finally:
        left = {p: command_line(p) for p in alive(below + learners + descendants(server.proc.pid))}
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        server.stop(signal.SIGKILL)
    assert left == {}
    assert code == 0 and seconds < 5 and not port_is_open(server.port)
    # The grading that was cut short recorded nothing; what was saved before is intact.
    assert ProgressStore(home).path.read_bytes() == saved
    assert {p.name for p in home.iterdir()} <= {"progress.json", ".progress.lock"}  # none set aside
