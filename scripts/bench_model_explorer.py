#!/usr/bin/env python3
"""Google's Model Explorer on one model, as a user meets it: its server (with the ONNX
adapter, `model_explorer_onnx`) started locally, the page opened in headless Chromium with
the model in the URL, and the time from navigation until the graph is on screen.

"On screen" is two signals: the page reports the graph's node count (the server converted
the model and the browser laid it out), and a screenshot of the graph pane shows the drawn
boxes (dark pixels of their borders and labels on the white pane), which ME draws with
WebGL (SwiftShader here). Each run starts a fresh browser, so nothing is cached.

Prints one JSON line: {"model", "runs_s": [...], "median_s", "nodes_shown"}. Run by the
viewer's graph benchmark (crates/assay-viewer/benches/graph.rs) to print Model Explorer next
to assay-viewer; needs scripts/setup-bench-viewer.sh first.

    .cache/venv-explorer-bench/bin/python scripts/bench_model_explorer.py MODEL [--runs 3]
"""

import argparse
import io
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from urllib.parse import quote

from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

BIN = os.path.dirname(sys.executable)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, timeout: float) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            urllib.request.urlopen(url, timeout=2).read(1)
            return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"Model Explorer did not answer at {url} within {timeout:.0f} s")


def drawn(png: bytes) -> bool:
    """Dark pixels in the graph pane: the boxes' borders and labels (the pane is white)."""
    img = Image.open(io.BytesIO(png)).convert("L")
    pane = img.crop((0, 110, min(880, img.width), min(560, img.height)))
    dark = sum(pane.histogram()[:120])
    return dark > 500


def one_run(url: str, timeout: float) -> tuple[float, str]:
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for a in (
        "--headless=new",
        "--no-sandbox",
        "--window-size=1280,800",
        "--enable-unsafe-swiftshader",
        "--use-angle=swiftshader",
        "--disable-dev-shm-usage",
    ):
        o.add_argument(a)
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
    try:
        t0 = time.time()
        d.get(url)
        nodes = ""
        while time.time() - t0 < timeout:
            text = d.execute_script("return document.body.innerText")
            m = re.search(r"(\d+) nodes", text or "")
            canvases = d.execute_script("return document.querySelectorAll('canvas').length")
            if m and canvases and drawn(d.get_screenshot_as_png()):
                nodes = m.group(1)
                return time.time() - t0, nodes
            time.sleep(0.1)
        sys.exit(f"Model Explorer showed no graph within {timeout:.0f} s")
    finally:
        d.quit()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--timeout", type=float, default=300)
    a = p.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [
            os.path.join(BIN, "model-explorer"),
            "--extensions=model_explorer_onnx",
            "--no_open_in_browser",
            "--skip_health_check",
            "--host=127.0.0.1",
            f"--port={port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_up(f"http://127.0.0.1:{port}/", 60)
        model = os.path.abspath(a.model)
        url = f"http://127.0.0.1:{port}/?data=" + quote(json.dumps({"models": [{"url": model}]}))
        runs, nodes = [], ""
        for _ in range(a.runs):
            s, nodes = one_run(url, a.timeout)
            runs.append(round(s, 2))
        print(
            json.dumps(
                {
                    "model": os.path.basename(model),
                    "runs_s": runs,
                    "median_s": statistics.median(runs),
                    "nodes_shown": nodes,
                }
            )
        )
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
