"""Open an HTML file in headless Chromium and measure what a reader would see.

Talks the DevTools protocol over `--remote-debugging-pipe` (NUL-separated JSON on file
descriptors 3 and 4), so it needs no network port and no client library; written by hand
because the protocol clients on PyPI either download their own browser or need a socket.
`open_page` loads the page at a fixed window size and returns its console errors, its
images' natural and rendered sizes, the document's width, and a PNG screenshot.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BINARIES = ("chromium", "chromium-browser", "google-chrome")

MEASURE = """JSON.stringify({
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth, innerHeight: window.innerHeight,
  images: [...document.images].map(i => {
    const b = i.getBoundingClientRect();
    return {alt: i.alt, complete: i.complete, natural: [i.naturalWidth, i.naturalHeight],
            shown: [b.width, b.height], top: b.top + window.scrollY};
  }),
  wide: [...document.querySelectorAll('table, figure, pre, p, h1, h2')]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth)
    .map(e => e.tagName + ': ' + e.textContent.slice(0, 60)),
})"""


def find_chromium() -> str | None:
    return next((p for p in map(shutil.which, BINARIES) if p), None)


@dataclass
class Page:
    scroll_width: int
    inner_width: int
    inner_height: int
    images: list[dict]
    wide: list[str]                                   # elements reaching past the window's right edge
    errors: list[str] = field(default_factory=list)   # console errors, exceptions, failed loads
    screenshot: bytes = b""


class _Pipe:
    def __init__(self, proc: subprocess.Popen, write_fd: int, read_fd: int, timeout: float):
        self.proc, self.w, self.r, self.deadline = proc, write_fd, read_fd, time.monotonic() + timeout
        self.buf, self.next_id, self.events = b"", 0, []

    def _read(self) -> dict:
        while b"\0" not in self.buf:
            if time.monotonic() > self.deadline:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self.r, 1 << 16)
            if not chunk:
                raise RuntimeError(f"chromium exited (code {self.proc.poll()})")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method: str, session: str | None = None, **params) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        for i, ev in enumerate(self.events):
            if ev.get("method") == method:
                return self.events.pop(i)
        while True:
            ev = self._read()
            if ev.get("method") == method:
                return ev
            self.events.append(ev)


def _errors(events: list[dict]) -> list[str]:
    out = []
    for ev in events:
        p = ev.get("params", {})
        if ev.get("method") == "Runtime.exceptionThrown":
            out.append(p["exceptionDetails"].get("text", "exception"))
        elif ev.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif ev.get("method") == "Log.entryAdded" and p["entry"].get("level") == "error":
            out.append(f"{p['entry'].get('source')}: {p['entry'].get('text')}")
    return out


def open_page(html: Path, width: int = 1280, height: int = 900, timeout: float = 60.0) -> Page:
    """Load `html` in a fresh headless Chromium at `width`×`height` and measure it."""
    binary = find_chromium()
    if binary is None:
        raise FileNotFoundError("chromium is not installed")
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()

    def wire():  # the child reads commands on fd 3 and answers on fd 4
        read, write = os.dup(to_child_r), os.dup(from_child_w)  # the pipe may itself hold 3 or 4
        os.dup2(read, 3)  # dup2 onto another number makes it inheritable
        os.dup2(write, 4)

    with tempfile.TemporaryDirectory() as profile:
        args = [binary, "--headless", "--remote-debugging-pipe", f"--user-data-dir={profile}",
                "--no-first-run", "--no-default-browser-check", "--disable-gpu", "--disable-extensions",
                f"--window-size={width},{height}", "--hide-scrollbars"]
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run its sandbox as root
        proc = subprocess.Popen(args, preexec_fn=wire, close_fds=False, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for fd in (to_child_r, from_child_w):
            os.close(fd)
        pipe = _Pipe(proc, to_child_w, from_child_r, timeout)
        try:
            target = pipe.call("Target.createTarget", url="about:blank")["targetId"]
            s = pipe.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                pipe.call(f"{domain}.enable", s)
            pipe.call("Emulation.setDeviceMetricsOverride", s, width=width, height=height,
                      deviceScaleFactor=1, mobile=False)
            pipe.call("Page.navigate", s, url=Path(html).resolve().as_uri())
            pipe.wait_for("Page.loadEventFired")
            value = pipe.call("Runtime.evaluate", s, expression=MEASURE, returnByValue=True)
            m = json.loads(value["result"]["value"])
            shot = pipe.call("Page.captureScreenshot", s, format="png")["data"]
            page = Page(m["scrollWidth"], m["innerWidth"], m["innerHeight"], m["images"], m["wide"],
                        _errors(pipe.events), base64.b64decode(shot))
            try:
                pipe.call("Browser.close")
            except RuntimeError:
                pass  # it closed while answering
            return page
        finally:
            for fd in (to_child_w, from_child_r):
                os.close(fd)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def check_report(html: Path, width: int = 1280, height: int = 900) -> Page:
    """Open a report as a reader would and assert what they need; the screenshot goes beside it.

    Skips (via pytest) when no Chromium is installed. Asserts: no console errors, every
    image decoded with a non-zero size, nothing wider than the window, a figure whose top
    is on the first screen.
    """
    import pytest

    if find_chromium() is None:
        pytest.skip("chromium is not installed (apt-get install chromium); the browser check needs it")
    page = open_page(html, width, height)
    shot = Path(html).with_name(Path(html).stem + ".screenshot.png")
    shot.write_bytes(page.screenshot)
    assert page.screenshot[:8] == b"\x89PNG\r\n\x1a\n"
    assert not page.errors, page.errors
    assert page.images, "no figure in the report"
    broken = [i["alt"] for i in page.images if not i["complete"] or 0 in i["natural"] or 0 in i["shown"]]
    assert not broken, f"images not loaded or of zero size: {broken}"
    assert page.scroll_width <= page.inner_width == width, (page.scroll_width, page.wide)
    assert min(i["top"] for i in page.images) < height, "no figure on the first screen"
    return page
