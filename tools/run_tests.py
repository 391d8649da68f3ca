"""Every test, as ``make test`` runs them: a few pytest runs two at a time, then one line of totals.

The runs (each a pytest process):

* "browser": the browser tests.  They wait on the tutorial server and on chromium more than they
  compute (about half a core), so they run beside the others;
* "notebooks", "exercises", "library": every other test, in three parts;
* "kernels on ...": the tests marked ``kernels`` (the public stable functions and losses, see
  tests/conftest.py) again on each other instruction-set build of ``numdl._kernels`` the CPU
  runs and on the NumPy kernel (tools/kernel_paths.py says how).

Two workers (``NUMDL_TEST_WORKERS``) take the runs in this order, longest first.  Each run's
output is kept and printed whole when it ends, so outputs never interleave.  The last line is
the sum over every run ("total: N passed, N failed"); the exit status is 0 only if every run
passed and collected tests (pytest's "no tests collected", exit 5, counts as a failure).

    python tools/run_tests.py [pytest arguments]
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from kernel_paths import kernel_paths  # noqa: E402

_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)")
# Parts of the non-browser tests (the last takes what the others leave).
_NOTEBOOKS = ["tests/tutorial"]
_EXERCISES = ["tests/exercises", "tests/test_cli.py", "tests/test_packaging.py"]


def runs(pytest_args: list[str]) -> list[tuple[str, dict[str, str], list[str]]]:
    """(name, extra environment, command) of every run, longest first."""
    pytest = [sys.executable, "-m", "pytest"]
    ignore = [f"--ignore={p}" for p in _NOTEBOOKS + _EXERCISES]
    out = [
        ("browser", {}, [*pytest, "-m", "browser", *pytest_args]),
        ("library", {}, [*pytest, "-m", "not browser", "tests", *ignore, *pytest_args]),
        ("notebooks", {}, [*pytest, "-m", "not browser", *_NOTEBOOKS, *pytest_args]),
        ("exercises", {}, [*pytest, "-m", "not browser", *_EXERCISES, *pytest_args]),
    ]
    for name, env in kernel_paths():
        out.append((f"kernels on {name}", env, [*pytest, "-m", "kernels", *pytest_args]))
    return out


def _totals(text: str) -> dict[str, int]:
    """Sum pytest's closing lines ('=== 12 passed, 1 skipped in 3.2s ===') in a run's output."""
    totals: dict[str, int] = {}
    for line in text.splitlines():
        if not (line.startswith("=") or re.match(r"^\d+ (passed|failed|error)", line)):
            continue
        if not re.search(r" in [\d.]+s", line):
            continue
        for count, word in _COUNT.findall(line):
            word = "errors" if word.startswith("error") else word
            totals[word] = totals.get(word, 0) + int(count)
    return totals


def main(argv: list[str]) -> int:
    todo = runs(argv)
    workers = max(1, int(os.environ.get("NUMDL_TEST_WORKERS", "2")))
    jobs: queue.Queue = queue.Queue()
    for job in todo:
        jobs.put(job)
    done: list[tuple[str, int, float, str]] = []
    lock = threading.Lock()
    started = time.monotonic()

    def worker():
        while True:
            try:
                name, env, cmd = jobs.get_nowait()
            except queue.Empty:
                return
            t0 = time.monotonic()
            proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, errors="replace")
            seconds = time.monotonic() - t0
            code = 1 if proc.returncode == 5 else proc.returncode  # 5: pytest collected nothing
            with lock:
                done.append((name, code, seconds, proc.stdout))
                print(f"\n{'#' * 24} {name}: {'passed' if code == 0 else f'FAILED (exit {code})'}"
                      f" in {seconds:.0f} s {'#' * 24}\n{proc.stdout}", flush=True)

    print(f"numdl tests: {len(todo)} pytest runs, {workers} at a time: "
          f"{', '.join(name for name, _, _ in todo)}", flush=True)
    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    totals: dict[str, int] = {}
    for _, _, _, text in done:
        for word, count in _totals(text).items():
            totals[word] = totals.get(word, 0) + count
    print("\nrun                                   result     seconds")
    for name, code, seconds, _ in done:
        print(f"{name:<37} {'passed' if code == 0 else f'exit {code}':<10} {seconds:7.0f}")
    print(f"wall time {time.monotonic() - started:.0f} s")
    failed = totals.get("failed", 0) + totals.get("errors", 0)
    extra = "".join(f", {totals[w]} {w}" for w in ("skipped", "xfailed", "xpassed") if totals.get(w))
    print(f"total: {totals.get('passed', 0)} passed, {failed} failed{extra}")
    if any(code for _, code, _, _ in done) or len(done) != len(todo):
        return 1
    return 0 if totals.get("passed", 0) > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
