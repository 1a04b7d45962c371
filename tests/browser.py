"""A real headless Chromium for the page tests, driven over the DevTools protocol (a websocket).

Why the protocol and not only --dump-dom: it reports every JavaScript dialog the page opens
(Page.javascriptDialogOpening, so an `alert` cannot go unseen, whatever the page does to
window.alert), every request the page makes (Network.requestWillBeSent, so "self-contained" is
checked, not assumed), and it takes screenshots and PDFs at a chosen width.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--mute-audio", "--hide-scrollbars")
START_SECONDS = 60
CALL_SECONDS = 60
PROFILE_SECONDS = 10  # how long a closed Chromium's helper processes may go on writing into its profile


def chromium_binary() -> str:
    """The Chromium on PATH; the test fails (never skips) when there is none."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("headless Chromium is needed for the page tests and none is on PATH: install Debian's "
                "'chromium' package (apt-get install chromium; .ci/run does this)", pytrace=False)


def remove_profile(profile: tempfile.TemporaryDirectory) -> None:
    """Remove a Chromium profile folder. The browser's helper processes can still be writing into it for a
    moment after the browser exits ("Directory not empty"), so removal is tried again until they are done."""
    deadline = time.monotonic() + PROFILE_SECONDS
    while True:
        try:
            profile.cleanup()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def dump_dom(url: str) -> str:
    """The page's DOM after load, as `chromium --headless --dump-dom URL` prints it."""
    profile = tempfile.TemporaryDirectory(prefix="newsdesk-chromium-")
    try:
        result = subprocess.run([chromium_binary(), *FLAGS, f"--user-data-dir={profile.name}", "--dump-dom", url],
                                capture_output=True, text=True, timeout=START_SECONDS)
    finally:
        remove_profile(profile)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@dataclass
class PageVisit:
    """What one page load did: dialogs opened, URLs requested, and the live connection for more."""

    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


class Chromium:
    """One headless Chromium process with one tab, spoken to over the DevTools protocol."""

    def __init__(self) -> None:
        from websockets.sync.client import connect

        self._profile = tempfile.TemporaryDirectory(prefix="newsdesk-chromium-")
        self._process = subprocess.Popen([chromium_binary(), *FLAGS, f"--user-data-dir={self._profile.name}",
                                          "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
                                          "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True)  # its own process group: close stops its helpers too
        port = self._port()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(request, timeout=CALL_SECONDS) as answer:
            target = json.load(answer)
        self._socket = connect(target["webSocketDebuggerUrl"], max_size=None, open_timeout=CALL_SECONDS)
        self._ids = itertools.count(1)
        self._events: list[dict] = []
        for domain in ("Page", "Network", "Runtime"):
            self.call(f"{domain}.enable")

    def _port(self) -> int:
        """The DevTools port Chromium chose (it writes it into the profile once it listens)."""
        marker = Path(self._profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                pytest.fail(f"chromium exited at start with code {self._process.returncode}", pytrace=False)
            if marker.is_file() and marker.read_text().strip():
                return int(marker.read_text().split()[0])
            time.sleep(0.1)
        pytest.fail(f"chromium did not open its DevTools port within {START_SECONDS} s", pytrace=False)

    def call(self, method: str, **params: object) -> dict:
        """Send one protocol command and return its result; events that arrive meanwhile are kept."""
        ident = next(self._ids)
        self._socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=CALL_SECONDS))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._on_event(message)

    def _on_event(self, message: dict) -> None:
        self._events.append(message)
        if message.get("method") == "Page.javascriptDialogOpening":  # a dialog blocks the page: close it
            self._socket.send(json.dumps({"id": next(self._ids), "method": "Page.handleJavaScriptDialog",
                                          "params": {"accept": False}}))

    def _wait_for(self, event: str, seconds: float = CALL_SECONDS) -> None:
        deadline = time.monotonic() + seconds
        while not any(e.get("method") == event for e in self._events):
            message = json.loads(self._socket.recv(timeout=max(0.1, deadline - time.monotonic())))
            if "method" in message:
                self._on_event(message)

    def visit(self, url: str, width: int = 1000, height: int = 800, settle_seconds: float = 0.5) -> PageVisit:
        """Load url at a viewport of width x height and wait for it (and a moment after, for late
        scripts); return the dialogs it opened and the URLs it requested."""
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=width < 600)
        self._events.clear()
        self.call("Page.navigate", url=url)
        self._wait_for("Page.loadEventFired")
        time.sleep(settle_seconds)
        self.call("Runtime.evaluate", expression="1")  # gathers the events that came in meanwhile
        visit = PageVisit()
        for e in self._events:
            if e.get("method") == "Page.javascriptDialogOpening":
                visit.dialogs.append(e["params"].get("message", ""))
            elif e.get("method") == "Network.requestWillBeSent":
                visit.requests.append(e["params"]["request"]["url"])
        return visit

    def evaluate(self, expression: str) -> object:
        """The value of a JavaScript expression in the page."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self) -> bytes:
        """A PNG of the whole page (beyond the viewport) as laid out at the visit's width."""
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        return base64.b64decode(self.call("Page.captureScreenshot", format="png", clip=clip,
                                          captureBeyondViewport=True)["data"])

    def pdf(self) -> bytes:
        """The page printed to PDF, as the print dialog would (print CSS, A4)."""
        return base64.b64decode(self.call("Page.printToPDF", paperWidth=8.27, paperHeight=11.69)["data"])

    def close(self) -> None:
        """Stop the browser and its helper processes, and remove its profile."""
        try:
            self._socket.close()
        finally:
            self._signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self._process.wait()
            remove_profile(self._profile)

    def _signal(self, number: int) -> None:
        """Send a signal to the browser's process group (the browser and the helpers it started)."""
        try:
            os.killpg(self._process.pid, number)
        except ProcessLookupError:  # the whole group is gone already
            pass
