"""Check a self-contained HTML page in a real headless Chromium (Debian's `chromium` package).

`render()` opens the page from file:// and drives the browser over the DevTools protocol (CDP)
on `--remote-debugging-pipe` (file descriptors 3 and 4, NUL-terminated JSON): no websocket
library, no TCP port. It records console errors, uncaught exceptions and browser-logged errors,
every request to a URL that is not local (file:, data:, blob:, about:), the page's text, and a
PNG screenshot of the viewport. `is_blank()`/`png_stats()` decode that PNG with zlib + numpy.

The browser is sandboxed from the outside world: every http(s)/ws request goes to a dead proxy
on 127.0.0.1:9 and host names never resolve, so a page that reaches out fails fast (and shows up
in `network_requests`) instead of sending traffic anywhere. Only 127.0.0.1 bypasses the proxy
(a loopback request is still reported). Requests are seen for the page and its same-process
frames, not for workers or out-of-process iframes.

    from browser import is_blank, render, require_chromium

    def test_report_renders(tmp_path):
        require_chromium()
        page = render(report_html, tmp_path)
        assert page.console_errors == [] and page.network_requests == []
        assert not is_blank(page.screenshot)
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

BINARIES = ("chromium", "chromium-browser", "google-chrome")
INSTALL_HINT = "apt-get install chromium"
# Schemes that never leave the machine; any other request URL is reported.
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-extensions",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    # Nothing leaves the machine: requests fail fast at a dead local proxy / unresolvable host.
    "--proxy-server=http://127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--remote-debugging-pipe",
)


# Set in the environment of every browser process render() starts (its value: the out_dir), so a
# test can look for leftovers in /proc/*/environ.
MARKER = "BROWSER_PY_OUT_DIR"


class BrowserError(RuntimeError):
    """Chromium failed to start, crashed, timed out, or could not load the page."""


@dataclass
class Rendered:
    """What a page did in the browser."""

    screenshot: Path
    console_errors: list[str] = field(default_factory=list)
    network_requests: list[str] = field(default_factory=list)
    text: str | None = None
    log: Path | None = None  # chromium's stderr, for debugging
    values: dict[str, Any] = field(default_factory=dict)  # what each of render()'s `measure` expressions gave


def chromium_binary() -> str | None:
    """The first Chromium/Chrome on PATH, or None."""
    for name in BINARIES:
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> str:
    """The browser binary; skips the calling test when none is installed (fails under CI=true)."""
    binary = chromium_binary()
    if binary is None:
        if os.environ.get("CI") == "true":  # CI must run what it claims to test
            pytest.fail(f"CI=true but chromium is not installed: {INSTALL_HINT}")
        pytest.skip(f"chromium not installed: {INSTALL_HINT}")
    return binary


class _Cdp:
    """A minimal CDP client over --remote-debugging-pipe (flattened sessions)."""

    def __init__(self, write_fd: int, read_fd: int, deadline: float, log: Path) -> None:
        self.write_fd, self.read_fd, self.deadline, self.log = write_fd, read_fd, deadline, log
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def _fail(self, why: str) -> BrowserError:
        tail = ""
        if self.log.exists():
            lines = self.log.read_text(errors="replace").splitlines()
            tail = "\n".join(line for line in lines[-15:] if "dbus" not in line)
        return BrowserError(f"{why}\n--- chromium stderr (tail) ---\n{tail}")

    def _read_message(self, until: float) -> dict[str, Any] | None:
        """The next message, or None when `until` passed first."""
        while b"\0" not in self.buffer:
            remaining = min(until, self.deadline) - time.monotonic()
            if remaining <= 0:
                if time.monotonic() >= self.deadline:
                    raise self._fail("chromium timed out")
                return None
            ready, _, _ = select.select([self.read_fd], [], [], remaining)
            if ready:
                chunk = os.read(self.read_fd, 1 << 20)
                if not chunk:
                    raise self._fail("chromium closed the DevTools pipe (crashed or exited)")
                self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send a command and return its result; events that arrive meanwhile are kept."""
        self.next_id += 1
        request: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            request["sessionId"] = session
        try:
            os.write(self.write_fd, json.dumps(request).encode() + b"\0")
        except BrokenPipeError:
            raise self._fail(f"chromium is gone (sending {method})") from None
        while True:
            message = self._read_message(self.deadline)
            assert message is not None
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise self._fail(f"{method} failed: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def pump(self, until: float, stop_on: str | None = None) -> bool:
        """Collect events until `until`; True as soon as an event named `stop_on` arrives."""
        if stop_on and any(e["method"] == stop_on for e in self.events):
            return True
        while (message := self._read_message(until)) is not None:
            if "method" in message:
                self.events.append(message)
                if message["method"] == stop_on:
                    return True
        return False


def _describe_remote(arg: dict[str, Any]) -> str:
    if "value" in arg:
        return str(arg["value"])
    return str(arg.get("description") or arg.get("unserializableValue") or arg.get("type"))


def _errors_and_requests(events: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    errors: list[str] = []
    requests: list[str] = []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text", "")
            where = f" ({details.get('url', '')}:{details.get('lineNumber', 0) + 1})"
            errors.append(f"uncaught exception: {text}{where}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            message = " ".join(_describe_remote(arg) for arg in params.get("args", []))
            errors.append(f"console.{params['type']}: {message}")
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            entry = params["entry"]
            url = f" ({entry['url']})" if entry.get("url") else ""
            errors.append(f"{entry.get('source', 'log')}: {entry.get('text', '')}{url}")
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if not url.startswith(LOCAL_SCHEMES) and url not in requests:
                requests.append(url)
    return errors, requests


def render(
    html: Path,
    out_dir: Path,
    width: int = 1280,
    height: int = 2000,
    *,
    timeout: float = 30.0,
    settle: float = 0.3,
    measure: dict[str, str] | None = None,
) -> Rendered:
    """Load `html` from file:// in headless Chromium and report what happened.

    Waits for the load event, then `settle` seconds more for late errors (timers, promises).
    The screenshot (viewport `width` x `height`) goes to `out_dir/<stem>.png` and chromium's
    stderr to `out_dir/<stem>.chromium.log`. Raises BrowserError on a crash, a failed
    navigation, or when it all takes longer than `timeout` seconds; the browser process group
    is always killed and its temporary profile removed.

    `measure` maps names to JavaScript expressions evaluated in the page after it settled (e.g.
    an element's `getBoundingClientRect().height`); their JSON values land in `Rendered.values`,
    so a test can assert the layout a reader sees. An expression that throws raises BrowserError.
    """
    binary = require_chromium()
    html = Path(html).resolve()
    if not html.is_file():
        raise FileNotFoundError(html)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    screenshot = out_dir / f"{html.stem}.png"
    log = out_dir / f"{html.stem}.chromium.log"
    deadline = time.monotonic() + timeout

    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()
    with tempfile.TemporaryDirectory(prefix="chromium-", ignore_cleanup_errors=True) as profile:
        # bash (not dash: it takes fds > 9) puts our pipe ends on fds 3 and 4, where
        # --remote-debugging-pipe expects them: the browser reads 3 and writes 4.
        launcher = f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w}'
        args = [*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"]
        try:
            with log.open("wb") as stderr:
                proc = subprocess.Popen(
                    [
                        shutil.which("bash") or "/bin/bash",
                        "-c",
                        launcher,
                        binary,
                        *args,
                        "about:blank",
                    ],
                    stdin=subprocess.DEVNULL,
                    env={**os.environ, MARKER: str(out_dir.resolve())},
                    stdout=stderr,
                    stderr=stderr,
                    pass_fds=(to_browser_r, from_browser_w),
                    start_new_session=True,  # its own process group, killed whole below
                )
        except BaseException:
            for fd in (to_browser_r, to_browser_w, from_browser_r, from_browser_w):
                os.close(fd)
            raise
        os.close(to_browser_r)
        os.close(from_browser_w)
        try:
            cdp = _Cdp(to_browser_w, from_browser_r, deadline, log)
            target = cdp.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                cdp.send(f"{domain}.enable", session=session)
            cdp.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                session=session,
            )
            cdp.events.clear()  # about:blank's own events
            nav = cdp.send("Page.navigate", {"url": html.as_uri()}, session=session)
            if nav.get("errorText"):
                raise BrowserError(f"navigation to {html} failed: {nav['errorText']}")
            cdp.pump(deadline, stop_on="Page.loadEventFired")  # raises on timeout
            cdp.pump(min(time.monotonic() + settle, deadline))
            text = cdp.send(
                "Runtime.evaluate",
                {
                    "expression": "document.body ? document.body.innerText : ''",
                    "returnByValue": True,
                },
                session=session,
            )["result"].get("value")
            values = {}
            for name, expression in (measure or {}).items():
                answer = cdp.send(
                    "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session
                )
                if "exceptionDetails" in answer:
                    raise BrowserError(f"measure {name!r} threw: {answer['exceptionDetails'].get('text', '')}")
                values[name] = answer["result"].get("value")
            shot = cdp.send("Page.captureScreenshot", {"format": "png"}, session=session)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            errors, requests = _errors_and_requests([e for e in cdp.events if e.get("sessionId") == session])
            with contextlib.suppress(BrowserError):  # it may close the pipe before answering
                cdp.send("Browser.close")
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(1.0, min(5.0, deadline - time.monotonic())))
        finally:
            # Kill the whole group (zygote, renderers, GPU process): after a timeout they are
            # still running. The crashpad handlers have their own sessions; they exit with it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            os.close(to_browser_w)
            os.close(from_browser_r)
    return Rendered(screenshot, errors, requests, text, log, values)


@dataclass(frozen=True)
class PngStats:
    """Pixel statistics of a PNG: size, distinct colours and how much differs from the mode."""

    width: int
    height: int
    colours: int
    dominant: tuple[int, ...]
    ink: float  # fraction of pixels that are not the dominant colour


_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel (8-bit only)


def png_pixels(png: Path) -> np.ndarray:
    """Decode an 8-bit, non-interlaced grey/RGB/RGBA PNG to a (height, width, channels) array."""
    data = Path(png).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{png}: not a PNG")
    pos, idat, header = 8, bytearray(), None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError(f"{png}: no IHDR chunk")
    width, height, depth, colour_type, _, _, interlace = header
    if depth != 8 or colour_type not in _CHANNELS or interlace:
        raise ValueError(
            f"{png}: unsupported PNG (bit depth {depth}, colour type {colour_type}, "
            f"interlace {interlace}); only 8-bit non-interlaced grey/RGB/RGBA"
        )
    bpp = _CHANNELS[colour_type]
    stride = width * bpp
    raw = np.frombuffer(zlib.decompress(bytes(idat)), dtype=np.uint8)
    if raw.size != height * (stride + 1):
        raise ValueError(f"{png}: image data has {raw.size} bytes, expected {height * (stride + 1)}")
    rows = raw.reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    prior = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:]
        if kind == 0:  # None
            cur = line.copy()
        elif kind == 1:  # Sub: running sum per channel, wrapping mod 256
            cur = np.cumsum(line.reshape(width, bpp), axis=0, dtype=np.uint8).reshape(stride)
        elif kind == 2:  # Up
            cur = line + prior
        elif kind in (3, 4):  # Average, Paeth: sequential, done byte by byte
            cur = _unfilter_slow(int(kind), line.tobytes(), prior.tobytes(), bpp)
        else:
            raise ValueError(f"{png}: bad filter type {kind} on row {y}")
        out[y] = cur
        prior = out[y]
    return out.reshape(height, width, bpp)


def _unfilter_slow(kind: int, line: bytes, prior: bytes, bpp: int) -> np.ndarray:
    cur = bytearray(line)
    for i in range(len(cur)):
        a = cur[i - bpp] if i >= bpp else 0
        b = prior[i]
        if kind == 3:
            cur[i] = (cur[i] + ((a + b) >> 1)) & 0xFF
            continue
        c = prior[i - bpp] if i >= bpp else 0
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        cur[i] = (cur[i] + pred) & 0xFF
    return np.frombuffer(bytes(cur), dtype=np.uint8)


def png_stats(png: Path) -> PngStats:
    """Size, number of distinct colours, the dominant colour and the share of other pixels."""
    pixels = png_pixels(png)
    height, width, channels = pixels.shape
    flat = pixels.reshape(-1, channels)
    packed = np.zeros(len(flat), dtype=np.uint32)
    for ch in range(channels):
        packed |= flat[:, ch].astype(np.uint32) << np.uint32(8 * ch)
    values, counts = np.unique(packed, return_counts=True)
    top = int(np.argmax(counts))
    dominant = tuple(int(values[top]) >> (8 * ch) & 0xFF for ch in range(channels))
    ink = 1.0 - float(counts[top]) / len(packed) if len(packed) else 0.0
    return PngStats(width, height, len(values), dominant, ink)


def is_blank(png: Path, max_ink: float = 1e-5) -> bool:
    """True when (nearly) every pixel has one colour: at most `max_ink` of them differ.

    The default allows ~25 stray pixels in a 1280x2000 screenshot; one short line of text is
    hundreds. `png_stats()` gives the distinct-colour count and the exact share.
    """
    return png_stats(png).ink <= max_ink
