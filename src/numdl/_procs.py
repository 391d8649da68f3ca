"""Process-tree housekeeping for the tutorial server and the grading sandbox (Linux first).

Three tools keep processes from outliving the thing that started them:

* :func:`set_parent_death_signal` asks the kernel to signal this process when its parent
  dies (``PR_SET_PDEATHSIG``), so a sandboxed learner process cannot outlive a server that was
  killed outright;
* :func:`become_subreaper` makes this process the one that orphans of its descendants are
  reparented to (``PR_SET_CHILD_SUBREAPER``), instead of init: a process that detached itself
  (a new session, a double fork) is still found and ended by :func:`kill_children`;
* :func:`kill_children` ends every child of this process, with its process group, and reaps
  it, until none is left.

Elsewhere than Linux the first two do nothing and return False; the third works on any POSIX
system that has ``/proc`` and otherwise finds nothing to kill.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import time

__all__ = ["become_subreaper", "children_of", "is_running", "kill_children", "set_parent_death_signal"]

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Have the kernel send ``sig`` to this process when the thread that started it exits.

    Returns False where that is not available.  The caller should compare ``os.getppid()`` with
    the parent it expects afterwards: a parent that died before this call sends nothing.
    """
    return _prctl(_PR_SET_PDEATHSIG, int(sig))


def become_subreaper() -> bool:
    """Make this process the reaper of its descendants' orphans (Linux 3.4+); False elsewhere."""
    return _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def _stat(pid: int | str) -> tuple[bytes, int] | None:
    """(state, parent pid) of a process from ``/proc/PID/stat``, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'
    fields = stat[stat.rfind(b")") + 2:].split()
    return (fields[0], int(fields[1])) if len(fields) >= 2 else None


def is_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (ended, waiting to be reaped)."""
    stat = _stat(pid)
    return stat is not None and stat[0] not in (b"Z", b"X")


def children_of(pid: int) -> list[int]:
    """The live (not zombie) processes whose parent is ``pid``, from ``/proc``."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    kids = []
    for entry in entries:
        if entry.isdigit():
            stat = _stat(entry)
            if stat is not None and stat[1] == pid and stat[0] not in (b"Z", b"X"):
                kids.append(int(entry))
    return kids


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_children(timeout: float = 5.0) -> list[int]:
    """SIGKILL every child of this process and its process group, reap them, and repeat while
    new orphans arrive (a subreaper inherits the children of those it kills).  Returns the pids
    killed.  Never signals this process's own group."""
    own_group = os.getpgrp()
    killed: list[int] = []
    deadline = time.monotonic() + timeout
    while True:
        _reap()
        kids = children_of(os.getpid())
        if not kids or time.monotonic() > deadline:
            return killed
        for kid in kids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                group = os.getpgid(kid)
                if group != own_group:
                    os.killpg(group, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(kid, signal.SIGKILL)
            killed.append(kid)
        time.sleep(0.02)
