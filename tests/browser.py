"""Headless Chromium for the tests: pages opened, read, photographed and driven as a user would.

:class:`Page` speaks Chromium's DevTools protocol over a local websocket (websocket-client): it runs
JavaScript in the page, waits for conditions, and clicks and drags with real mouse events.
Nothing is downloaded: it drives Debian's chromium.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> str:
    """Chromium's path, else skip the test; under CI (``CI`` set) fail it instead.

    Chromium is on the system-package list (scripts/debian-packages.txt), so ``make setup`` installs
    it: where CI runs the tests, a missing browser is a broken setup, not a reason to skip.
    """
    import pytest

    path = chromium()
    if path is None:
        message = "needs Chromium (scripts/debian-packages.txt; `make setup` installs it)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: under CI every browser test must run")
        pytest.skip(message)
    return path


class Page:
    """One page in a headless Chromium, driven over the DevTools protocol; use as a context manager."""

    def __init__(self, url: str, width: int = 1280, height: int = 1000, timeout: float = 60):
        import websocket

        self._profile = tempfile.TemporaryDirectory(ignore_cleanup_errors=True)  # chromium may still write there
        self._process = subprocess.Popen(
            [chromium(), *FLAGS, "--remote-debugging-port=0", "--remote-allow-origins=*",
             f"--user-data-dir={self._profile.name}", f"--window-size={width},{height}", url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self._profile.name) / "DevToolsActivePort"
        deadline = time.time() + timeout
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.time() > deadline or self._process.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            target = next(t for t in json.load(response) if t["type"] == "page")
        self._socket = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=timeout,
                                                   suppress_origin=True)
        self._ids = itertools.count(1)
        self.errors: list[str] = []  # uncaught exceptions in the page
        self.send("Runtime.enable")
        self.wait_for("location.href !== 'about:blank' && document.readyState === 'complete'", timeout,
                      what=f"{url} to load")

    def navigate(self, url: str, timeout: float = 60) -> None:
        """Open ``url`` in this page (one browser for many pages) and wait for it to load."""
        self.send("Page.navigate", url=url)
        self.wait_for(f"location.href === {json.dumps(url)} && document.readyState === 'complete'", timeout,
                      what=f"{url} to load")

    def send(self, method: str, **params) -> dict:
        """One DevTools command; its result (events that arrive meanwhile are read for page errors)."""
        number = next(self._ids)
        self._socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("method") == "Runtime.exceptionThrown":
                self.errors.append(message["params"]["exceptionDetails"].get("text", ""))
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}…: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60, what: str | None = None):
        """Poll a JavaScript expression until it is truthy; its value."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.2)
        raise TimeoutError(f"waited {timeout:.0f} s for {what or expression}")

    def point(self, selector: str, index: int = 0, across: float = 0.5) -> tuple[float, float]:
        """A point of the ``index``-th element matching ``selector`` (scrolled into view if it is not): halfway
        down, ``across`` of its width from the left (0.5: the centre)."""
        box = self.evaluate(f"""(() => {{
            const e = document.querySelectorAll({json.dumps(selector)})[{index}];
            e.scrollIntoView({{block: "nearest"}});  // no scroll when it is in view already
            const r = e.getBoundingClientRect();
            return [r.x + r.width * {across}, r.y + r.height / 2];
        }})()""")
        return box[0], box[1]

    def _mouse(self, kind: str, x: float, y: float, buttons: int = 1) -> None:
        """A mouse event with the left button (pressed when ``buttons`` is 1)."""
        button = "left" if buttons or kind != "mouseMoved" else "none"
        # whole pixels: with fractional ones headless Chromium clicks but does not start a text selection
        self.send("Input.dispatchMouseEvent", type=kind, x=round(x), y=round(y), button=button, buttons=buttons,
                  clickCount=1)

    def click(self, selector: str, index: int = 0) -> None:
        x, y = self.point(selector, index)
        self._mouse("mouseMoved", x, y, buttons=0)
        self._mouse("mousePressed", x, y)
        self._mouse("mouseReleased", x, y, buttons=0)

    def drag(self, start: tuple[float, float], stop: tuple[float, float]) -> None:
        """Press at ``start``, move to ``stop`` and release there (selects text, as a user does)."""
        self._mouse("mouseMoved", *start, buttons=0)
        self._mouse("mousePressed", *start)
        for step in range(1, 6):
            t = step / 5
            self._mouse("mouseMoved", start[0] + t * (stop[0] - start[0]), start[1] + t * (stop[1] - start[1]))
        self._mouse("mouseReleased", *stop, buttons=0)

    def screenshot(self, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"]))

    def close(self) -> None:
        if getattr(self, "_socket", None) is not None:
            self._socket.close()
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._profile.cleanup()

    def __enter__(self) -> Page:
        return self

    def __exit__(self, *_) -> None:
        self.close()
