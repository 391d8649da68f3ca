"""Run a learner's code in a separate, resource-limited process.

The tutorial server never ``exec``s learner code.  :func:`run_function` starts a
fresh interpreter (:mod:`numdl.exercises._child`) that caps its own address
space, CPU time and file sizes, runs the code and calls one function on each
case.  The server enforces a wall-clock limit by killing the child's whole
process group, keeps at most ``max_output_chars`` of what it prints (a flood of
prints is drained, not stored) and reads back one JSON record per case, so the
answers obtained before a hang or a crash survive it.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from numdl.exercises.encoding import decode, encode

__all__ = ["CaseOutcome", "Limits", "SandboxRun", "run_function"]


@dataclass(frozen=True)
class Limits:
    """Resource limits for one grading run.

    ``seconds`` is wall-clock time for the whole run (interpreter start, the
    learner's module and every case); ``memory_mb`` caps the child's address
    space (``RLIMIT_AS``); ``max_output_chars`` is how much printed output is kept.
    """

    seconds: float = 10.0
    memory_mb: int = 768
    max_output_chars: int = 4000
    max_file_mb: int = 64

    def __post_init__(self) -> None:
        if not self.seconds > 0:
            raise ValueError(f"seconds={self.seconds!r} must be positive")
        if self.memory_mb < 200:
            raise ValueError(f"memory_mb={self.memory_mb!r} is below the 200 MiB Python+NumPy need")
        if self.max_output_chars < 0:
            raise ValueError(f"max_output_chars={self.max_output_chars!r} must be >= 0")


@dataclass(frozen=True)
class CaseOutcome:
    """What the learner's function did on one case: a value or an error record."""

    value: Any = None
    error: dict | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class SandboxRun:
    """Everything the server learned from one sandboxed run."""

    load_error: dict | None
    outcomes: list[CaseOutcome | None]  # None: the case never ran (timeout, crash)
    output: str
    output_chars: int  # bytes printed in all, kept or not
    timed_out: bool
    finished: bool
    exit_code: int | None
    elapsed: float
    limits: Limits = field(default_factory=Limits)

    @property
    def output_truncated(self) -> bool:
        return self.output_chars > len(self.output)

    @property
    def crashed(self) -> bool:
        """The process ended before reporting every case, and not by our timeout."""
        return not self.finished and not self.timed_out


def _child_env() -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        # One BLAS thread: the sandbox must not take over the server's cores, and
        # each BLAS thread reserves address space that counts against RLIMIT_AS.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONIOENCODING": "utf-8",
    }
    return env


# Process groups of the runs in progress, killed at exit: grading threads are daemons, and
# the interpreter stops them at exit without running their cleanup.
_LIVE_GROUPS: set[int] = set()
_LIVE_LOCK = threading.Lock()


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@atexit.register
def _kill_live_groups() -> None:
    with _LIVE_LOCK:
        groups = list(_LIVE_GROUPS)
        _LIVE_GROUPS.clear()
    for pgid in groups:
        _kill_group(pgid)


def _drain(stream, keep: int, sink: dict) -> None:
    # Keep the first ``keep`` bytes and count the rest without storing or decoding
    # them: a learner's print loop must cost the server neither memory nor much CPU.
    fd = stream.fileno()
    kept = bytearray()
    total = 0
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        if len(kept) < keep:
            kept += chunk[: keep - len(kept)]
        total += len(chunk)
    sink["text"] = kept.decode("utf-8", errors="replace")
    sink["total"] = total


def run_function(
    code: str,
    function: str,
    cases: list[tuple[tuple, dict]],
    limits: Limits | None = None,
) -> SandboxRun:
    """Run ``code`` in a sandboxed interpreter and call ``function`` on each case.

    Parameters
    ----------
    code : str
        The learner's source.  It runs as a module with ``np`` already imported.
    function : str
        Name of the function the code must define.
    cases : list of (args, kwargs)
        Arguments for each call; values must be encodable by
        :func:`numdl.exercises.encoding.encode` (NumPy arrays of any float dtype).
    limits : Limits, optional
        Time, memory and output limits.
    """
    if not isinstance(code, str):
        raise TypeError(f"code must be a str, not {type(code).__name__}")
    if not function.isidentifier():
        raise ValueError(f"function={function!r} is not a Python identifier")
    limits = limits or Limits()
    with tempfile.TemporaryDirectory(prefix="numdl-grade-") as tmp:
        job_path = os.path.join(tmp, "job.json")
        result_path = os.path.join(tmp, "results.jsonl")
        job = {
            "code": code,
            "function": function,
            "cases": [{"args": encode(tuple(a)), "kwargs": encode(dict(k))} for a, k in cases],
            "memory_bytes": limits.memory_mb * 2**20,
            "cpu_seconds": max(1, int(limits.seconds) + 1),
            "file_bytes": limits.max_file_mb * 2**20,
            "parent_pid": os.getpid(),
        }
        with open(job_path, "w", encoding="utf-8") as fh:
            json.dump(job, fh)
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-I", "-m", "numdl.exercises._child", job_path, result_path],
            cwd=tmp,
            env=_child_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a timeout kills its children too
        )
        with _LIVE_LOCK:
            _LIVE_GROUPS.add(proc.pid)
        sink: dict = {}
        reader = threading.Thread(
            target=_drain, args=(proc.stdout, limits.max_output_chars, sink), daemon=True
        )
        reader.start()
        timed_out = False
        try:
            proc.wait(timeout=limits.seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            # Kill the group even after a normal exit: the learner's code may have
            # left a child process behind.
            _kill_group(proc.pid)
            proc.wait()
            with _LIVE_LOCK:
                _LIVE_GROUPS.discard(proc.pid)
        reader.join(timeout=5)
        elapsed = time.perf_counter() - start
        records = _read_records(result_path)

    load_error = None
    outcomes: list[CaseOutcome | None] = [None] * len(cases)
    finished = False
    for rec in records:
        stage = rec.get("stage")
        if stage == "load" and "error" in rec:
            load_error = rec["error"]
            finished = True
        elif stage == "case":
            index = int(rec["index"])
            if 0 <= index < len(outcomes):
                value = decode(rec["value"]) if "value" in rec else None
                outcomes[index] = CaseOutcome(value, rec.get("error"), float(rec.get("seconds", 0)))
        elif stage == "done":
            finished = True
    return SandboxRun(
        load_error=load_error,
        outcomes=outcomes,
        output=sink.get("text", ""),
        output_chars=sink.get("total", 0),
        timed_out=timed_out,
        finished=finished,
        exit_code=None if timed_out else proc.returncode,
        elapsed=elapsed,
        limits=limits,
    )


def _read_records(path: str) -> list[dict]:
    records: list[dict] = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    break  # a line cut short by a kill: everything before it stands
    except FileNotFoundError:
        pass
    return records
