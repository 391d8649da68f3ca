"""Helpers for tests that start ``numdl tutorial`` as a user would (test_cli, the browser tests)
and for tests that watch processes end (the sandbox tests).

The server runs as ``python -m numdl.cli tutorial --no-browser`` with its own NUMDL_HOME; its
output is read until it prints its URL and drained afterwards, so its pipe never fills.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

from numdl import _procs

__all__ = ["Tutorial", "alive", "command_line", "descendants", "learner_processes", "port_is_open",
           "start_tutorial", "wait_for"]


class Tutorial:
    """A running ``numdl tutorial``: its process and the URL it printed."""

    def __init__(self, proc: subprocess.Popen, url: str) -> None:
        self.proc = proc
        self.url = url
        self.port = urlsplit(url).port

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Send ``sig`` and wait for the exit code (a server that ignores it is killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            for pid in descendants(self.proc.pid):  # do not leave a server behind for the next test
                _kill(pid)
            self.proc.kill()
            self.proc.wait()
            raise


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def start_tutorial(home, args=(), timeout: float = 90.0) -> Tutorial:
    """Start ``numdl tutorial`` with NUMDL_HOME=home and wait until it prints its URL."""
    env = dict(os.environ, NUMDL_HOME=str(home))
    proc = subprocess.Popen([sys.executable, "-m", "numdl.cli", "tutorial", "--no-browser", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "numdl tutorial is ready" in line:
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return Tutorial(proc, line.split(": ", 1)[1].strip())
    proc.kill()
    proc.wait()
    raise AssertionError("the tutorial server did not start:\n" + "".join(lines))


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children, their children, ...)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        kids = _procs.children_of(todo.pop())
        found += kids
        todo += kids
    return found


def alive(pids) -> list[int]:
    """The pids of ``pids`` that are still running (zombies count as ended)."""
    return [p for p in pids if _procs.is_running(p)]


def wait_for(condition, timeout: float, interval: float = 0.02):
    """Poll ``condition()`` until it returns something true or ``timeout`` seconds pass; the
    last value it returned."""
    deadline = time.monotonic() + timeout
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(interval)
    return value


def learner_processes(pid: int) -> list[int]:
    """The grading sandbox's processes below ``pid``: the learner's interpreter and its forks."""
    return [p for p in descendants(pid) if "numdl.exercises._child" in command_line(p)]


def command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0
