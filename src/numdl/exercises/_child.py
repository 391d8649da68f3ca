"""Entry point of the grading sandbox: ``python -I -m numdl.exercises._child JOB RESULTS``.

This module runs in a fresh interpreter that the server starts for each Check.
It limits its own resources before touching the learner's code, runs that code,
calls the learner's function on each case and appends one JSON line per case to
RESULTS, flushing after each, so that the server keeps every answer obtained
before a hang or a crash.  It never grades: comparing with the reference happens
in the server, on values that came back through :mod:`numdl.exercises.encoding`.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time
import traceback

from numdl._procs import set_parent_death_signal

LEARNER_FILENAME = "<your code>"


__all__ = ["LEARNER_FILENAME", "main"]


def _limit(memory_bytes: int, cpu_seconds: int, file_bytes: int) -> None:
    # RLIMIT_AS caps the address space: a 10 GB allocation fails with MemoryError
    # here instead of pushing the server's machine into swap.
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    # CPU time backs up the server's wall-clock kill if the process is detached.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _error_record(exc: BaseException) -> dict:
    # Keep only the frames in the learner's code: the sandbox's own frames would
    # point a learner at lines they never wrote.
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == LEARNER_FILENAME]
    where = f"line {frames[-1].lineno}" if frames else None
    if isinstance(exc, SystemExit):
        kind = "exit"
    elif isinstance(exc, MemoryError):
        kind = "memory"
    elif isinstance(exc, SyntaxError):
        kind = "syntax"
        where = f"line {exc.lineno}" if exc.lineno else None
    else:
        kind = "exception"
    message = str(exc)
    if len(message) > 500:
        message = message[:500] + "…"
    return {"kind": kind, "type": type(exc).__name__, "message": message, "where": where}


def main(argv: list[str]) -> int:
    job_path, result_path = argv[1], argv[2]
    with open(job_path, encoding="utf-8") as fh:
        job = json.load(fh)
    # Die with the server: if the process that started this one is killed (the tutorial server
    # stopped while grading), the kernel kills this one too.  A parent that died before the
    # request was made is seen as a changed parent pid.
    set_parent_death_signal(signal.SIGKILL)
    if job.get("parent_pid") and os.getppid() != int(job["parent_pid"]):
        return 0
    _limit(int(job["memory_bytes"]), int(job["cpu_seconds"]), int(job["file_bytes"]))

    import numpy as np  # imported before the learner's code, under the limits

    from numdl.exercises.encoding import decode, encode

    out = open(result_path, "a", encoding="utf-8")

    def emit(record: dict) -> None:
        out.write(json.dumps(record) + "\n")
        out.flush()

    namespace: dict = {"__name__": "__learner__", "np": np, "numpy": np}
    try:
        code = compile(job["code"], LEARNER_FILENAME, "exec")
        exec(code, namespace)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt included: report, never die
        emit({"stage": "load", "error": _error_record(exc)})
        return 0
    func = namespace.get(job["function"])
    if not callable(func):
        emit({"stage": "load", "error": {"kind": "missing", "type": "NameError",
                                          "message": job["function"], "where": None}})
        return 0
    emit({"stage": "load", "ok": True})

    for index, case in enumerate(job["cases"]):
        args = decode(case["args"])
        kwargs = decode(case.get("kwargs", {"__dict__": {}}))
        start = time.perf_counter()
        try:
            with np.errstate(all="ignore"):
                value = func(*args, **kwargs)
            record = {"stage": "case", "index": index, "value": encode(value)}
        except BaseException as exc:
            record = {"stage": "case", "index": index, "error": _error_record(exc)}
        record["seconds"] = time.perf_counter() - start
        emit(record)
    emit({"stage": "done"})
    out.close()
    return 0


if __name__ == "__main__":
    # Learner code that calls os._exit or crashes the interpreter ends the process
    # here without a "done" record; the server reports that.
    sys.exit(main(sys.argv))
