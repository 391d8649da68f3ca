"""How fast the tutorial feels: server start, chapter render, control-to-output latency.

Prints a table of medians and maxima measured in one run on this machine:

- start:   ``numdl tutorial`` launched -> first HTTP 200 from the home page;
- render:  navigation to chapter 1 -> its last computed output and every plot visible;
- control: a dropdown changed -> the text computed from it updated (the
           kernel re-runs the dependent cells and the page redraws them).

Usage: python benchmarks/tutorial_latency.py [--quick] [--changes N]
Needs /usr/bin/chromium (``make test`` installs it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from numdl.tutorial.simulations import ch01

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def start_server(home: str) -> tuple[subprocess.Popen, str, float]:
    from numdl.cli import choose_port

    port = choose_port()
    env = dict(os.environ, NUMDL_HOME=home)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "numdl.cli", "tutorial", "--no-browser",
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/?file=00_home.py"
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return proc, url.split("?")[0], time.perf_counter() - t0
        except OSError:
            time.sleep(0.02)
        if time.perf_counter() - t0 > 120:
            proc.kill()
            raise RuntimeError("server did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def row(name: str, values: list[float]) -> str:
    return (f"| {name:<38} | {len(values):>3} | {statistics.median(values) * 1000:>9.0f} "
            f"| {max(values) * 1000:>9.0f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--changes", type=int, default=20, help="control changes to time")
    args = parser.parse_args()
    starts_n = 2 if args.quick else 5
    renders_n = 3 if args.quick else 8
    changes_n = 6 if args.quick else args.changes

    from playwright.sync_api import sync_playwright

    home = tempfile.mkdtemp(prefix="numdl-bench-")
    starts = []
    for _ in range(starts_n):
        proc, _, elapsed = start_server(home)
        starts.append(elapsed)
        stop(proc)

    proc, base, _ = start_server(home)
    renders, changes = [], []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            for _ in range(renders_n):
                t0 = time.perf_counter()
                page.goto(f"{base}?file=01_why_numerics.py")
                page.get_by_text("Key takeaways").wait_for(timeout=120_000)
                page.get_by_text("becomes exactly 0 at length").wait_for(timeout=120_000)
                page.locator(".js-plotly-plot").nth(3).wait_for(timeout=120_000)
                renders.append(time.perf_counter() - t0)
            select = page.locator("select").first
            values = ["float64", "float16", "float32", "bfloat16"]
            for i in range(changes_n):
                name = values[i % len(values)]
                if i == 0 and name == "float32":
                    name = "float64"
                k = ch01.running_product(0.1, 400, name).underflow_at
                t0 = time.perf_counter()
                select.select_option(name)
                page.get_by_text(f"In {name} the product of tokens of probability 0.1 becomes "
                                 f"exactly 0 at length {k}").wait_for(timeout=60_000)
                changes.append(time.perf_counter() - t0)
            browser.close()
    finally:
        stop(proc)

    print(f"numdl tutorial latency (CPU cores: {os.cpu_count()}, one run)\n")
    print("| measurement                            |   n | median ms |    max ms |")
    print("|----------------------------------------|-----|-----------|-----------|")
    print(row("start -> first HTTP 200", starts))
    print(row("chapter 1 load -> full render", renders))
    print(row("control change -> updated output", changes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
