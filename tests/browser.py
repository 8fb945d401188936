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


# --- the accessibility audit ----------------------------------------------------------------------
#
# A JavaScript audit evaluated in the page (a `measure` expression): it reads the DOM and the
# computed CSS and returns a JSON list of problems, each {"check", "element", "detail"}. Checks:
#   landmarks  exactly one main (<main> or role=main), a banner (a <header> outside article/aside/
#              main/nav/section, or role=banner), a navigation (<nav>, role=navigation) and a
#              contentinfo (<footer> scoped as the header, or role=contentinfo); <html lang>; a <title>
#   label      every input (not hidden/submit/reset/button/image), select and textarea has a name:
#              aria-labelledby, aria-label, or a label with text (<label for>, a wrapping label)
#   alt        every <img> has alt (empty for decoration), every outermost <svg> a <title>,
#              aria-label or aria-labelledby; or is aria-hidden / role=presentation|none
#   name       every link, button (and role=button/link) has a name: text, aria-label(ledby),
#              an image's alt or an svg's title inside, or title
#   heading    heading levels never skip (h1 first, then at most one deeper than the one before)
#   table      every table (not role=presentation|none) has a header cell (th, role=columnheader|rowheader)
#   contrast   every rendered element with a direct text node (not in an svg, not disabled): its
#              computed `color` over its effective background — the `background-color`s of it and
#              its ancestors composited with their alpha, from the first opaque one (white when none);
#              skipped when an ancestor has a background-image — WCAG 2.x relative luminance and
#              ratio >= 4.5 (>= 3 for large text: >= 24px, or >= 18.66px and bold)
#   keyboard   every rendered, enabled interactive element (links, buttons, form controls, summary,
#              widget roles) has tabIndex >= 0; every element in the tab order takes focus and then
#              shows it: its computed outline or box-shadow differs from the unfocused state and is
#              not none (transitions are switched off while measuring; focus never scrolls)
# Not covered: text over images or positioned siblings, svg text, :focus-within indicators on a
# parent, reading order, and anything that needs a screen reader.

ACCESSIBILITY_AUDIT = r"""
(() => {
  const problems = [];
  const describe = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    const cls = (el.getAttribute("class") || "").trim().split(/\s+/).filter(Boolean).slice(0, 2);
    if (cls.length) s += "." + cls.join(".");
    const text = (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 40);
    return text ? `${s} "${text}"` : s;
  };
  const report = (check, el, detail) => problems.push({check, element: el ? describe(el) : "document", detail});
  const notDisplayed = (el) => {
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      if (getComputedStyle(e).display === "none") return true;
    }
    return false;
  };
  const rendered = (el) => {
    if (notDisplayed(el)) return false;
    const st = getComputedStyle(el);
    return st.visibility === "visible" && el.getClientRects().length > 0;
  };
  const ariaHidden = (el) => !!el.closest('[aria-hidden="true"]') || notDisplayed(el);
  const presentational = (el) => ["presentation", "none"].includes((el.getAttribute("role") || "").trim());
  const clean = (s) => (s || "").replace(/\s+/g, " ").trim();
  const byIds = (ids) => clean((ids || "").split(/\s+/).map((id) => document.getElementById(id))
    .filter(Boolean).map((e) => e.textContent).join(" "));
  const textOf = (node) => {
    if (node.nodeType === 3) return node.textContent;
    if (node.nodeType !== 1 || node.getAttribute("aria-hidden") === "true") return "";
    const st = getComputedStyle(node);
    if (st.display === "none" || st.visibility === "hidden") return "";
    if (clean(node.getAttribute("aria-label"))) return node.getAttribute("aria-label");
    const tag = node.tagName.toLowerCase();
    if (tag === "img") return node.getAttribute("alt") || "";
    if (tag === "svg") {
      const title = node.querySelector(":scope > title");
      return title ? title.textContent : "";
    }
    return Array.from(node.childNodes).map(textOf).join(" ");
  };
  const ariaName = (el) => byIds(el.getAttribute("aria-labelledby")) || clean(el.getAttribute("aria-label"));

  // landmarks
  const scoped = (sel) => Array.from(document.querySelectorAll(sel))
    .filter((e) => !e.parentElement.closest("article, aside, main, nav, section"));
  const mains = document.querySelectorAll('main, [role="main"]');
  if (mains.length !== 1)
    report("landmarks", null, `${mains.length} main landmarks (<main> or role=main); exactly one wanted`);
  if (!scoped("header").length && !document.querySelector('[role="banner"]'))
    report("landmarks", null, "no banner landmark (a top-level <header> or role=banner)");
  if (!document.querySelector('nav, [role="navigation"]'))
    report("landmarks", null, "no navigation landmark (<nav> or role=navigation)");
  if (!scoped("footer").length && !document.querySelector('[role="contentinfo"]'))
    report("landmarks", null, "no contentinfo landmark (a top-level <footer> or role=contentinfo)");
  if (!clean(document.documentElement.getAttribute("lang"))) report("landmarks", null, "<html> has no lang");
  if (!clean(document.title)) report("landmarks", null, "the page has no <title>");

  // form controls
  const unnamedTypes = ["hidden", "submit", "reset", "button", "image"];
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.tagName === "INPUT" && unnamedTypes.includes(el.type)) continue;
    const labels = Array.from(el.labels || []).map((l) => clean(textOf(l))).filter(Boolean);
    if (!ariaName(el) && !labels.length)
      report("label", el, "form control without a name: add <label for>, a wrapping <label>, " +
        "aria-label or aria-labelledby");
  }

  // images and graphics
  for (const el of document.querySelectorAll("img")) {
    if (!el.hasAttribute("alt") && !ariaName(el) && !ariaHidden(el) && !presentational(el))
      report("alt", el, `image without alt (${el.getAttribute("src") || ""})`);
  }
  for (const el of document.querySelectorAll("svg")) {
    if (el.parentElement.closest("svg")) continue;
    const title = el.querySelector(":scope > title");
    if (!(title && clean(title.textContent)) && !ariaName(el) && !ariaHidden(el) && !presentational(el))
      report("alt", el, "svg without a text alternative: a <title>, aria-label or aria-labelledby, " +
        "or aria-hidden=true");
  }

  // links and buttons
  const named = 'a[href], button, [role="button"], [role="link"], ' +
    'input[type="submit"], input[type="button"], input[type="reset"]';
  for (const el of document.querySelectorAll(named)) {
    if (ariaHidden(el)) continue;
    let name = ariaName(el) || clean(textOf(el)) || clean(el.getAttribute("title"));
    if (el.tagName === "INPUT") name = name || clean(el.value) || (el.type !== "button" ? el.type : "");
    if (!name) report("name", el, `${el.tagName.toLowerCase()} without text or a label`);
  }

  // headings
  let previous = 0;
  for (const el of document.querySelectorAll('h1, h2, h3, h4, h5, h6, [role="heading"]')) {
    if (!rendered(el)) continue;
    const level = el.getAttribute("role") === "heading"
      ? Number(el.getAttribute("aria-level") || 2) : Number(el.tagName[1]);
    const before = previous ? "h" + previous : "the start of the page";
    if (level > previous + 1) report("heading", el, `h${level} after ${before}: a level skipped`);
    previous = level;
  }

  // tables
  for (const el of document.querySelectorAll("table")) {
    if (presentational(el)) continue;
    if (!el.querySelector('th, [role="columnheader"], [role="rowheader"]'))
      report("table", el, "table without header cells (<th>)");
  }

  // contrast
  const canvas = document.createElement("canvas").getContext("2d", {willReadFrequently: true});
  const rgba = (value) => {
    let m = value.match(/^rgba?\(([^)]*)\)$/);
    if (m) {
      const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(parseFloat);
      return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    }
    m = value.match(/^color\(srgb ([^)]*)\)$/);
    if (m) {
      const p = m[1].split(/[\s\/]+/).filter(Boolean).map(parseFloat);
      return [p[0] * 255, p[1] * 255, p[2] * 255, p.length > 3 ? p[3] : 1];
    }
    canvas.clearRect(0, 0, 1, 1);
    canvas.fillStyle = value;
    canvas.fillRect(0, 0, 1, 1);
    const d = canvas.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2], d[3] / 255];
  };
  const over = (top, bottom) => [0, 1, 2].map((i) => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
  const luminance = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      const s = v / 255;
      return s <= 0.04045 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const hex = (c) => "#" + c.slice(0, 3).map((v) => Math.round(v).toString(16).padStart(2, "0")).join("");
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const st = getComputedStyle(e);
      if (st.backgroundImage !== "none") return null;  // an image or gradient: not computable here
      const c = rgba(st.backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let colour = [255, 255, 255, 1];
    for (const layer of layers.reverse()) colour = over(layer, colour);
    return colour;
  };
  const SKIPPED = ["SCRIPT", "STYLE", "NOSCRIPT", "OPTION", "OPTGROUP", "TEMPLATE"];
  for (const el of document.body ? document.body.querySelectorAll("*") : []) {
    if (el instanceof SVGElement || SKIPPED.includes(el.tagName)) continue;
    if (!Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    if (!rendered(el) || el.closest(":disabled")) continue;
    const st = getComputedStyle(el);
    if (parseFloat(st.opacity) === 0) continue;
    const bg = background(el);
    if (!bg) continue;
    const fg = over(rgba(st.color), bg);
    const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(st.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(st.fontWeight) >= 700);
    const needed = large ? 3 : 4.5;
    if (ratio < needed)
      report("contrast", el,
        `${hex(fg)} on ${hex(bg)}: ${ratio.toFixed(2)}:1 < ${needed}:1 (${size}px, weight ${st.fontWeight})`);
  }

  // keyboard
  const interactive = 'a[href], area[href], button, input:not([type="hidden"]), select, textarea, summary, ' +
    '[role="button"], [role="link"], [role="checkbox"], [role="radio"], [role="switch"], [role="tab"], ' +
    '[role="menuitem"], [role="option"], [role="slider"], [role="textbox"], [role="combobox"], ' +
    '[contenteditable="true"]';
  const calm = document.createElement("style");
  calm.textContent = "*, *::before, *::after { transition: none !important; animation: none !important; }";
  document.head.appendChild(calm);
  const scroll = [window.scrollX, window.scrollY];
  const ring = (el) => {
    const st = getComputedStyle(el);
    return {style: st.outlineStyle, width: st.outlineWidth, colour: st.outlineColor, shadow: st.boxShadow};
  };
  const candidates = new Set([...document.querySelectorAll(interactive), ...document.querySelectorAll("[tabindex]")]);
  for (const el of candidates) {
    if (!rendered(el) || el.closest(":disabled") || el.getAttribute("aria-disabled") === "true") continue;
    const isInteractive = el.matches(interactive);
    if (el.tabIndex < 0) {
      if (isInteractive) report("keyboard", el, `not reachable with the keyboard (tabIndex ${el.tabIndex})`);
      continue;
    }
    if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
    const before = ring(el);
    el.focus({preventScroll: true, focusVisible: true});
    if (document.activeElement !== el) {
      report("keyboard", el, "in the tab order but does not take focus");
      continue;
    }
    const after = ring(el);
    el.blur();
    const outline = after.style !== "none" && parseFloat(after.width) > 0 &&
      (after.style !== before.style || after.width !== before.width || after.colour !== before.colour);
    const shadow = after.shadow !== "none" && after.shadow !== before.shadow;
    if (!outline && !shadow)
      report("keyboard", el,
        `no visible focus: outline ${after.style} ${after.width} ${after.colour}, box-shadow ${after.shadow} ` +
        `(unfocused: outline ${before.style} ${before.width}, box-shadow ${before.shadow})`);
  }
  calm.remove();
  window.scrollTo(scroll[0], scroll[1]);
  return problems;
})()
"""


def audit(
    html: Path,
    out_dir: Path,
    width: int = 1280,
    height: int = 2000,
    *,
    measure: dict[str, str] | None = None,
    **options: Any,
) -> Rendered:
    """`render()` with the accessibility audit: its problems are `accessibility_problems(result)`.

    The other `measure` expressions are evaluated too (before the audit, which moves focus).
    """
    return render(
        html, out_dir, width, height, measure={**(measure or {}), "accessibility": ACCESSIBILITY_AUDIT}, **options
    )


def accessibility_problems(rendered: Rendered) -> list[str]:
    """The audit's problems as `check: element: detail` lines (empty when the page passes)."""
    found = rendered.values.get("accessibility")
    if found is None:
        raise ValueError("this page was not audited: render it with audit() (or measure=ACCESSIBILITY_AUDIT)")
    return [f"{p['check']}: {p['element']}: {p['detail']}" for p in found]
