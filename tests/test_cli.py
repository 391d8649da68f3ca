"""The launcher: free ports, loopback only unless a token protects the server, a real start."""

from __future__ import annotations

import os
import signal
import socket
import time
import urllib.request

import pytest

from numdl.cli import build_command, choose_port, is_loopback, main
from numdl.tutorial.catalog import CHAPTERS, available_chapters, resolve
from servers import alive, command_line, descendants, port_is_open, start_tutorial


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.2.1", "localhost", "::1", "[::1]"])
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "10.0.0.1", "::", "example.org"])
def test_public_hosts(host):
    assert not is_loopback(host)


def test_free_port_is_bindable():
    port = choose_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_busy_port_is_refused_by_name():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        with pytest.raises(ValueError, match=f"--port {busy} is not available"):
            choose_port("127.0.0.1", busy)
    with pytest.raises(ValueError, match="out of range"):
        choose_port("127.0.0.1", 70000)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5"])
def test_public_host_without_token_is_refused(host, capsys):
    assert main(["tutorial", "--host", host, "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert f"refusing to serve on {host}" in err and "--token" in err


def test_unknown_chapter_is_refused(capsys):
    assert main(["tutorial", "zz", "--no-browser"]) == 2
    assert "unknown chapter 'zz'" in capsys.readouterr().err


def test_command_uses_marimo_run_and_the_token():
    files = ["/x/00_home.py", "/x/01_why_numerics.py"]
    cmd = build_command(host="127.0.0.1", port=1234, token_password=None, files=files)
    assert cmd[1:5] == ["-m", "marimo", "-q", "run"] and cmd[5:7] == files
    assert "--no-token" in cmd and cmd[cmd.index("--port") + 1] == "1234"
    cmd = build_command(host="0.0.0.0", port=1234, token_password="s3cret", files=files)
    # The token goes through stdin, never the command line (visible in `ps`).
    assert "--token" in cmd and "s3cret" not in " ".join(cmd)


def test_chapters_resolve_by_number_slug_and_file():
    first = CHAPTERS[0]
    for name in ("1", "01", "01_why_numerics", "01_why_numerics.py"):
        assert resolve(name) == first
    assert first in available_chapters()


def test_list_prints_the_syllabus(capsys):
    assert main(["tutorial", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(ch.title in out for ch in CHAPTERS)


def test_progress_command_reports_and_resets(numdl_home, capsys):
    from numdl.exercises import ProgressStore
    from numdl.exercises.chapter01 import SEQUENCE_LOG_PROB

    ProgressStore().record(SEQUENCE_LOG_PROB.id, "code", passed=True)
    assert main(["progress"]) == 0
    out = capsys.readouterr().out
    assert "1/2 exercises passed" in out and f"{SEQUENCE_LOG_PROB.title}: passed" in out
    assert main(["progress", "--reset"]) == 0
    assert ProgressStore().all() == {}


def test_server_starts_on_loopback_and_serves_the_home_page(numdl_home):
    server = start_tutorial(numdl_home)
    try:
        assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/?file=00_home.py")
        with urllib.request.urlopen(server.url, timeout=10) as resp:
            assert resp.status == 200
            assert b"marimo" in resp.read()
    finally:
        server.stop()


def test_token_protects_a_server(numdl_home):
    import http.cookiejar

    server = start_tutorial(numdl_home, ["--token-password", "s3cret", "--port", str(choose_port()), "1"])
    url = server.url
    try:
        assert "access_token=s3cret" in url and "?file=01_why_numerics.py" in url
        bare = url.split("&access_token")[0]
        with urllib.request.urlopen(bare, timeout=10) as resp:
            assert "/auth/login" in resp.geturl()  # sent to the login page
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        with opener.open(url, timeout=10) as resp:
            assert resp.status == 200 and "/auth/login" not in resp.geturl()
    finally:
        server.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_a_stop_signal_closes_the_port_and_leaves_no_process(numdl_home, sig):
    # Before the fix, SIGTERM ended numdl and left marimo serving the port, orphaned.
    server = start_tutorial(numdl_home)
    below = descendants(server.proc.pid)
    assert any("marimo" in command_line(p) for p in below), below
    started = time.monotonic()
    code = server.stop(sig, timeout=15)
    seconds = time.monotonic() - started
    left = alive(below)
    for pid in left:  # never leave a server behind for the next test
        os.kill(pid, signal.SIGKILL)
    assert left == [] and not port_is_open(server.port)
    assert code == 0
    # within a few seconds: marimo's own shutdown, not the 5 s grace before SIGKILL
    assert seconds < 5


def test_tutorial_without_its_extra_says_what_to_install(monkeypatch, capsys):
    """The library installs without marimo and plotly; `numdl tutorial` then names the extra."""
    import numdl.cli

    monkeypatch.setattr(numdl.cli.importlib.util, "find_spec",
                        lambda name: None if name == "marimo" else object())
    assert numdl.cli.missing_tutorial_requirements() == ["marimo"]
    assert main(["tutorial", "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert "marimo" in err and "numdl[tutorial]" in err
