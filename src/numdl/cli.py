"""The ``numdl`` command: ``numdl tutorial`` serves the chapters, ``numdl progress`` shows progress.

``numdl tutorial`` starts ``marimo run`` on every written chapter plus the home
page, on 127.0.0.1 and a free port unless told otherwise, waits until the server
answers, prints the home page's URL and opens it in a browser.  Serving on any
address other than loopback lets other machines run code on yours (the
exercises execute what is typed into them), so it is refused unless a token
protects the server.

Stopping it (Ctrl+C, SIGTERM, SIGHUP) stops everything it started: marimo runs in a process
group of its own, which gets SIGTERM, then SIGKILL after a few seconds; ``numdl tutorial`` is
the subreaper of its descendants, so a grading process orphaned on the way (or one that
detached itself) is found and killed before it exits.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import ipaddress
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import webbrowser
from collections.abc import Sequence
from urllib.parse import quote

from numdl import _procs
from numdl.tutorial.catalog import CHAPTERS, HOME_SLUG, available_chapters, notebook_dir, resolve

__all__ = [
    "TUTORIAL_REQUIRES",
    "build_command",
    "choose_port",
    "is_loopback",
    "main",
    "missing_tutorial_requirements",
]


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to a public address


def choose_port(host: str = "127.0.0.1", port: int | None = None) -> int:
    """Return ``port`` if it can be bound on ``host``, or a free port when ``port`` is None.

    Raises ValueError naming the port when it is out of range or already in use.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"--port {port} is out of range (1-65535)")
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host.strip("[]"), port or 0))
        except OSError as exc:
            if port is None:
                raise
            raise ValueError(f"--port {port} is not available on {host}: {exc.strerror}") from exc
        return sock.getsockname()[1]


def build_command(
    *, host: str, port: int, token_password: str | None, files: Sequence[str]
) -> list[str]:
    """The ``marimo run`` command line that serves ``files``."""
    # -q: marimo's own banner names the gallery URL; ours (printed when the server
    # answers) names the home page, with the token when there is one.
    cmd = [sys.executable, "-m", "marimo", "-q", "run", *files, "--host", host, "--port", str(port),
           "--headless", "--no-sandbox", "--session-ttl", "600"]
    if token_password:
        cmd += ["--token", "--token-password-file", "-"]
    else:
        cmd += ["--no-token"]
    return cmd


def _url(host: str, port: int, slug: str, token: str | None) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    url = f"http://{shown}:{port}/?file={quote(slug)}.py"
    if token:
        url += f"&access_token={quote(token)}"
    return url


def _wait_until_up(url: str, proc: subprocess.Popen, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"marimo exited with code {proc.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return time.monotonic() - start
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the tutorial server did not answer within {timeout:.0f} s")


TUTORIAL_REQUIRES = ("marimo", "plotly")
"""What the notebooks need beyond the library: the ``tutorial`` extra of the package."""


def missing_tutorial_requirements() -> list[str]:
    """The packages of :data:`TUTORIAL_REQUIRES` that are not installed."""
    missing = []
    for name in TUTORIAL_REQUIRES:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # ValueError: sys.modules[name] is None (blocked)
            found = False
        if not found:
            missing.append(name)
    return missing


def _tutorial(args: argparse.Namespace) -> int:
    if args.list:
        for ch in CHAPTERS:
            mark = " " if ch.available else "-"
            print(f"{mark} {ch.number:>3}  {ch.title}  ({ch.slug})")
        print("\n(- : not written yet)")
        return 0
    missing = missing_tutorial_requirements()
    if missing:
        print(
            f"numdl: the tutorial needs {' and '.join(missing)}, which the library alone does not "
            "install.  Install the tutorial extra:\n    pip install 'numdl[tutorial]'",
            file=sys.stderr,
        )
        return 2
    host = args.host
    token = args.token_password
    if args.token and not token:
        token = secrets.token_urlsafe(16)
    if not is_loopback(host) and not token:
        print(
            f"numdl: refusing to serve on {host}: the exercises run the code typed into them, so "
            "anyone who can reach this address could run code on this machine.\n"
            "Add --token (a random token is printed) or --token-password SECRET, or serve on "
            "127.0.0.1 (the default).",
            file=sys.stderr,
        )
        return 2
    try:
        start_slug = resolve(args.chapter).slug if args.chapter else HOME_SLUG
        port = choose_port(host, args.port)
    except ValueError as exc:
        print(f"numdl: {exc}", file=sys.stderr)
        return 2

    folder = notebook_dir()
    files = [str(folder / f"{HOME_SLUG}.py")] + [str(c.path) for c in available_chapters()]
    env = dict(os.environ)
    if args.home:
        env["NUMDL_HOME"] = os.path.abspath(args.home)
    cmd = build_command(host=host, port=port, token_password=token, files=files)
    started = time.monotonic()
    with _stop_signals():
        try:
            proc = _start_server(cmd, env, token)
        except _Stop:  # between fork and the assignment: the sweep finds the child
            _procs.kill_children()
            return 0
        try:
            url = _url(host, port, start_slug, token)
            try:
                _wait_until_up(url, proc, timeout=args.startup_timeout)
            except RuntimeError as exc:
                print(f"numdl: {exc}", file=sys.stderr)
                return 1
            print(f"\nnumdl tutorial is ready ({time.monotonic() - started:.1f} s): {url}\n"
                  "Press Ctrl+C to stop.", flush=True)
            if not args.no_browser:
                webbrowser.open(url)
            return proc.wait()
        except _Stop:
            return 0
        finally:
            _stop_server(proc)


class _Stop(Exception):
    """SIGINT (Ctrl+C), SIGTERM or SIGHUP arrived: stop the server."""


@contextlib.contextmanager
def _stop_signals():
    """Make SIGINT, SIGTERM and SIGHUP raise :class:`_Stop` in the main thread while the server
    runs; the previous handlers come back afterwards."""

    def handler(signum, frame):
        raise _Stop(signum)

    wanted = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
    previous = {}
    try:
        for sig in wanted:
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread: leave the handlers as they are
        pass
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _start_server(cmd: list[str], env: dict[str, str], token: str | None) -> subprocess.Popen:
    # The subreaper inherits the orphans of every process below it (a grading process whose
    # server thread died, a learner's detached child): _stop_server() finds and kills them.
    _procs.become_subreaper()
    proc = subprocess.Popen(
        cmd, env=env, stdin=subprocess.PIPE if token else subprocess.DEVNULL, text=True,
        # Its own process group: a signal for marimo reaches its helpers too, and Ctrl+C in a
        # terminal reaches numdl alone, which decides how to stop.
        start_new_session=True,
        # If numdl itself is killed outright, marimo gets SIGTERM from the kernel.
        preexec_fn=_marimo_death_signal,
    )
    if token:
        assert proc.stdin is not None
        proc.stdin.write(token + "\n")
        proc.stdin.close()
    return proc


def _marimo_death_signal() -> None:  # runs in the child between fork and exec
    _procs.set_parent_death_signal(signal.SIGTERM)


def _stop_server(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """Stop marimo and everything below it: SIGTERM to its process group, SIGKILL to what is
    left after ``grace`` seconds, then every remaining child of this process (orphans that were
    reparented here) killed and reaped.  Further stop signals are ignored meanwhile."""
    ignored = {}
    with contextlib.suppress(ValueError):
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            ignored[sig] = signal.signal(sig, signal.SIG_IGN)
    try:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        # marimo's group may hold helpers that outlive marimo itself: kill the whole group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        _procs.kill_children()
    finally:
        for sig, old in ignored.items():
            signal.signal(sig, old)


def _progress(args: argparse.Namespace) -> int:
    from numdl.exercises import ProgressStore, exercises_for

    store = ProgressStore(args.home) if args.home else ProgressStore()
    if args.reset:
        store.reset()
        print(f"numdl: progress in {store.path} was reset")
        return 0
    saved = store.all()
    print(f"Progress in {store.path}\n")
    for ch in available_chapters():
        exercises = exercises_for(ch.slug)
        done = sum(1 for e in exercises if e.id in saved and saved[e.id].passed)
        print(f"{ch.number:>3}  {ch.title:<45} {done}/{len(exercises)} exercises passed")
        for e in exercises:
            entry = saved.get(e.id)
            state = ("passed" if entry.passed else f"not passed ({entry.attempts} checks)") if entry else "not tried"
            print(f"       - {e.title}: {state}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="numdl", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    tut = sub.add_parser("tutorial", help="serve the interactive tutorial")
    tut.add_argument("chapter", nargs="?", help="open this chapter (e.g. 1, 2a, 02a_overflow_underflow)")
    tut.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    tut.add_argument("--host", default="127.0.0.1",
                     help="address to bind (default 127.0.0.1; others need --token or --token-password)")
    tut.add_argument("--no-browser", action="store_true", help="do not open a browser")
    tut.add_argument("--token", action="store_true", help="protect the server with a random token")
    tut.add_argument("--token-password", default=None, help="protect the server with this token")
    tut.add_argument("--home", default=None, help="where progress is kept (default: $NUMDL_HOME)")
    tut.add_argument("--list", action="store_true", help="list the chapters and exit")
    tut.add_argument("--startup-timeout", type=float, default=60.0, help=argparse.SUPPRESS)
    tut.set_defaults(func=_tutorial)

    prog = sub.add_parser("progress", help="show (or reset) your exercise progress")
    prog.add_argument("--home", default=None, help="progress folder (default: $NUMDL_HOME)")
    prog.add_argument("--reset", action="store_true", help="forget all progress")
    prog.set_defaults(func=_progress)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
