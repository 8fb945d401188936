"""Self-tests of tests/browser.py: each check must be able to fail, in a real headless Chromium."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from browser import (
    MARKER,
    BrowserError,
    accessibility_problems,
    audit,
    is_blank,
    png_pixels,
    png_stats,
    render,
    require_chromium,
)

CLEAN = """<!doctype html><html><head><meta charset="utf-8"><title>ok</title></head>
<body style="font-family: sans-serif">
<h1 style="color: #b00020">Gate report</h1><p>All checks passed.</p>
<svg width="300" height="120"><rect width="200" height="80" fill="steelblue"/>
<circle cx="250" cy="60" r="40" fill="orange"/></svg>
<script>document.body.insertAdjacentHTML("beforeend", "<p>rendered by script</p>");</script>
</body></html>"""


def page(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.html"
    path.write_text(body if body.startswith("<!doctype") else f"<!doctype html><body>{body}")
    return path


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Pids of the browsers render() launches during the test (it starts each in a session)."""
    pids: list[int] = []

    class Recording(subprocess.Popen):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            pids.append(self.pid)

    monkeypatch.setattr(subprocess, "Popen", Recording)
    return pids


def leftovers(sessions: list[int], out_dir: Path) -> set[int]:
    """Live processes of those sessions, or marked for `out_dir` (crashpad runs in its own)."""
    marker = f"{MARKER}={out_dir.resolve()}\0".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit():
                continue
            state, _ppid, _pgrp, session = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:4]
            if state != "Z" and (int(session) in sessions or marker in (entry / "environ").read_bytes()):
                found.add(int(entry.name))
        except OSError:
            continue
    return found


def assert_all_gone(sessions: list[int], out_dir: Path, seconds: float = 5.0) -> None:
    assert sessions, "render() launched no browser"
    end = time.monotonic() + seconds
    while (alive := leftovers(sessions, out_dir)) and time.monotonic() < end:
        time.sleep(0.05)
    assert alive == set(), f"browser processes left running: {sorted(alive)}"


def test_clean_page_has_no_errors_requests_and_is_not_blank(tmp_path: Path, launched: list[int]) -> None:
    require_chromium()
    rendered = render(page(tmp_path, "clean", CLEAN), tmp_path)
    assert rendered.console_errors == []
    assert rendered.network_requests == []
    assert rendered.text is not None
    assert "Gate report" in rendered.text
    assert "rendered by script" in rendered.text  # scripts ran
    stats = png_stats(rendered.screenshot)
    assert (stats.width, stats.height) == (1280, 2000)
    assert stats.dominant[:3] == (255, 255, 255)
    assert stats.colours > 10
    assert not is_blank(rendered.screenshot)
    # the browser's process group is gone once render() returns
    assert_all_gone(launched, tmp_path)


def test_console_error_is_detected(tmp_path: Path) -> None:
    require_chromium()
    html = page(tmp_path, "console", '<p>x</p><script>console.error("boom")</script>')
    rendered = render(html, tmp_path)
    assert rendered.console_errors == ["console.error: boom"]
    assert rendered.network_requests == []


def test_uncaught_exceptions_are_detected(tmp_path: Path) -> None:
    require_chromium()
    html = page(
        tmp_path,
        "throw",
        '<script>throw new Error("x")</script><script>setTimeout(() => Promise.reject(new Error("late")), 20)</script>',
    )
    errors = render(html, tmp_path).console_errors
    assert len(errors) == 2, errors
    assert errors[0].startswith("uncaught exception: Error: x")
    assert "throw.html" in errors[0]
    assert errors[1].startswith("uncaught exception: Error: late")  # after the load event


def test_network_request_is_detected(tmp_path: Path) -> None:
    require_chromium()
    html = page(
        tmp_path,
        "fetches",
        '<img src="http://127.0.0.1:9/x.png">'
        '<link rel="stylesheet" href="https://cdn.invalid/style.css">'
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">',
    )
    rendered = render(html, tmp_path)
    assert rendered.network_requests == [
        "http://127.0.0.1:9/x.png",
        "https://cdn.invalid/style.css",
    ]  # the data: image is local and not listed
    # the failed loads are also browser-logged errors
    assert any("127.0.0.1:9/x.png" in e for e in rendered.console_errors)


def test_blank_page_is_blank(tmp_path: Path) -> None:
    require_chromium()
    rendered = render(page(tmp_path, "blank", ""), tmp_path, width=400, height=300)
    stats = png_stats(rendered.screenshot)
    assert (stats.width, stats.height, stats.colours, stats.ink) == (400, 300, 1, 0.0)
    assert is_blank(rendered.screenshot)
    assert rendered.console_errors == []
    assert rendered.text == ""


def test_hang_times_out_and_kills_the_browser(tmp_path: Path, launched: list[int]) -> None:
    require_chromium()
    html = page(tmp_path, "hang", "<script>while (true) {}</script>")
    start = time.monotonic()
    with pytest.raises(BrowserError, match="timed out"):
        render(html, tmp_path, timeout=2)
    assert time.monotonic() - start < 6
    assert_all_gone(launched, tmp_path)


def test_leftover_check_sees_a_live_session(tmp_path: Path) -> None:
    """assert_all_gone() must be able to fail: a live process of a new session is seen."""
    env = {**os.environ, MARKER: str(tmp_path.resolve())}
    with subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True, env=env
    ) as proc:
        try:
            assert leftovers([proc.pid], tmp_path) == {proc.pid}
            assert leftovers([], tmp_path) == {proc.pid}  # by its marker alone
            with pytest.raises(AssertionError, match="left running"):
                assert_all_gone([proc.pid], tmp_path, seconds=0.2)
        finally:
            proc.kill()
    assert leftovers([proc.pid], tmp_path) == set()


def test_missing_file_raises(tmp_path: Path) -> None:
    require_chromium()
    with pytest.raises(FileNotFoundError):
        render(tmp_path / "nope.html", tmp_path)


# --- the PNG decoder, on images made here (every filter type, every colour type) ---


def make_png(path: Path, rows: list[bytes], width: int, colour_type: int, filters: list[int]):
    """Encode raw pixel rows with the given per-row filter types."""
    bpp = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    out, prior = bytearray(), bytes(width * bpp)
    for row, kind in zip(rows, filters, strict=True):
        enc = bytearray()
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prior[i]
            c = prior[i - bpp] if i >= bpp else 0
            if kind == 0:
                pred = 0
            elif kind == 1:
                pred = a
            elif kind == 2:
                pred = b
            elif kind == 3:
                pred = (a + b) // 2
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            enc.append((x - pred) & 0xFF)
        out += bytes([kind]) + enc
        prior = row

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, len(rows), 8, colour_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(out))) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("colour_type", [0, 2, 4, 6])
def test_png_decoder_round_trips_all_filters(tmp_path: Path, colour_type: int) -> None:
    bpp = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    width, height = 7, 10
    rows = [os.urandom(width * bpp) for _ in range(height)]
    png = tmp_path / "noise.png"
    make_png(png, rows, width, colour_type, [y % 5 for y in range(height)])
    pixels = png_pixels(png)
    assert pixels.shape == (height, width, bpp)
    assert [pixels[y].tobytes() for y in range(height)] == rows


def test_png_blankness_and_colours(tmp_path: Path) -> None:
    width, white = 50, bytes([255, 255, 255]) * 50
    png = tmp_path / "img.png"
    make_png(png, [white] * 40, width, 2, [4] * 40)
    assert is_blank(png)
    assert png_stats(png).colours == 1
    dotted = [white] * 40
    dotted[20] = bytes([255, 0, 0]) * 3 + white[9:]  # 3 red pixels of 2,000
    make_png(png, dotted, width, 2, [1, 2, 3] * 13 + [0])
    stats = png_stats(png)
    assert (stats.colours, stats.dominant) == (2, (255, 255, 255))
    assert stats.ink == pytest.approx(3 / 2000)
    assert not is_blank(png)
    assert is_blank(png, max_ink=0.01)


def test_png_decoder_rejects_what_it_cannot_read(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"GIF89a")
    with pytest.raises(ValueError, match="not a PNG"):
        png_pixels(bad)


def test_measure_returns_layout_values_and_a_throwing_expression_raises(tmp_path: Path) -> None:
    require_chromium()
    html = page(tmp_path, "measure", '<p id="p" style="width: 60px; margin: 0">one two three four five</p>')
    height = "document.getElementById('p').offsetHeight"
    shown = render(html, tmp_path, width=400, height=300, measure={"n": "1 + 1", "height": height})
    assert shown.values["n"] == 2
    assert shown.values["height"] > 40, "five words in 60 px wrap onto several lines"
    with pytest.raises(BrowserError, match="measure 'bad' threw"):
        render(html, tmp_path, width=400, height=300, measure={"bad": "no_such_name.x"})


# --- the accessibility audit: a clean page passes, and each check fails on its own fault ---

ACCESSIBLE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Models</title>
<style>
  body { font-family: sans-serif; color: #1a1a1a; background: #fff; margin: 0 }
  header, footer { background: #0b3d91; color: #fff; padding: 8px }
  header a { color: #fff }
  .muted { color: #595959 }
  .big { color: #949494; font-size: 24px }
  .badge { background: rgba(0, 0, 0, 0.75); color: #fff }
  button:focus-visible { outline: 3px solid #0b3d91 }
</style></head><body>
<header><a href="#main">Skip to the models</a><nav aria-label="Site"><a href="index.html">Index</a></nav></header>
<main id="main" tabindex="-1">
  <h1>Models</h1>
  <p class="muted">Updated daily.</p><p class="big">Large grey text is fine at 3:1</p>
  <label for="q">Search</label><input id="q" type="search">
  <label>Owner <select><option>all</option></select></label>
  <textarea aria-label="Notes"></textarea>
  <button type="button">Filter</button> <span class="badge">fail</span>
  <h2>Table</h2>
  <table><thead><tr><th scope="col">Model</th></tr></thead><tbody><tr><td>credit</td></tr></tbody></table>
  <svg role="img" width="40" height="20"><title>trend</title><rect width="40" height="20" fill="#333"/></svg>
  <svg aria-hidden="true" width="10" height="10"><circle r="5" cx="5" cy="5"/></svg>
  <img alt="" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
  <a href="models/credit/index.html"><svg width="10" height="10"><title>credit</title></svg></a>
  <input type="hidden" value="x"><button type="button" disabled style="color:#ccc">off</button>
</main>
<footer><p>mlgate</p></footer>
</body></html>"""


def audited(tmp_path: Path, name: str, html: str, width: int = 800) -> list[str]:
    rendered = audit(page(tmp_path, name, html), tmp_path, width=width, height=600)
    assert rendered.console_errors == []
    return accessibility_problems(rendered)


def test_accessibility_audit_passes_a_clean_page(tmp_path: Path) -> None:
    require_chromium()
    assert audited(tmp_path, "clean", ACCESSIBLE) == []
    assert audited(tmp_path, "narrow", ACCESSIBLE, width=390) == []


def test_accessibility_audit_needs_the_page_audited(tmp_path: Path) -> None:
    require_chromium()
    with pytest.raises(ValueError, match="not audited"):
        accessibility_problems(render(page(tmp_path, "plain", ACCESSIBLE), tmp_path, width=400, height=300))


def broken(old: str, new: str) -> str:
    assert ACCESSIBLE.count(old) == 1, old
    return ACCESSIBLE.replace(old, new)


FAULTS = [
    (
        "no main",
        broken('<main id="main" tabindex="-1">', '<div id="main" tabindex="-1">').replace("</main>", "</div>"),
        ["landmarks: document: 0 main landmarks (<main> or role=main); exactly one wanted"],
    ),
    (
        "two mains",
        broken("<footer>", '<div role="main">x</div><footer>'),
        ["landmarks: document: 2 main landmarks (<main> or role=main); exactly one wanted"],
    ),
    (
        "no nav, header or footer",
        broken('<nav aria-label="Site"><a href="index.html">Index</a></nav>', "")
        .replace("<header>", "<div>")
        .replace("</header>", "</div>")
        .replace("<footer>", "<div>")
        .replace("</footer>", "</div>"),
        [
            "landmarks: document: no banner landmark (a top-level <header> or role=banner)",
            "landmarks: document: no navigation landmark (<nav> or role=navigation)",
            "landmarks: document: no contentinfo landmark (a top-level <footer> or role=contentinfo)",
        ],
    ),
    (
        "unlabelled input",
        broken(
            '<label for="q">Search</label><input id="q" type="search">',
            '<input id="q" type="search" placeholder="Search">',
        ),
        [
            (
                "label: input#q: form control without a name: add <label for>, a wrapping <label>, "
                "aria-label or aria-labelledby"
            )
        ],
    ),
    (
        "empty label",
        broken('<label for="q">Search</label>', '<label for="q"> </label>'),
        [
            (
                "label: input#q: form control without a name: add <label for>, a wrapping <label>, "
                "aria-label or aria-labelledby"
            )
        ],
    ),
    (
        "grey text",
        broken('<p class="muted">', '<p style="color: #777">'),
        ['contrast: p "Updated daily.": #777777 on #ffffff: 4.48:1 < 4.5:1 (16px, weight 400)'],
    ),
    (
        "grey large text below 3:1",
        broken(".big { color: #949494", ".big { color: #a0a0a0"),
        ['contrast: p.big "Large grey text is fine at 3:1": #a0a0a0 on #ffffff: 2.61:1 < 3:1 (24px, weight 400)'],
    ),
    (
        "a translucent badge over white",
        broken("background: rgba(0, 0, 0, 0.75); color: #fff", "background: rgba(0, 0, 0, 0.25); color: #fff"),
        ['contrast: span.badge "fail": #ffffff on #bfbfbf: 1.83:1 < 4.5:1 (16px, weight 400)'],
    ),
    (
        "svg without a title",
        broken("<title>trend</title>", ""),
        ["alt: svg: svg without a text alternative: a <title>, aria-label or aria-labelledby, or aria-hidden=true"],
    ),
    (
        "image without alt",
        broken('<img alt="" src=', "<img src="),
        ["alt: img: image without alt (data:image/gif;base64,R0lGODlhAQABAAAAACw=)"],
    ),
    (
        "a link with only an unnamed icon",
        broken(
            '<svg width="10" height="10"><title>credit</title></svg>',
            '<svg width="10" height="10" aria-hidden="true"></svg>',
        ),
        ["name: a: a without text or a label"],
    ),
    ("an empty button", broken(">Filter</button>", "></button>"), ["name: button: button without text or a label"]),
    (
        "a skipped heading level",
        broken("<h2>Table</h2>", "<h3>Table</h3>"),
        ['heading: h3 "Table": h3 after h1: a level skipped'],
    ),
    (
        "a table without header cells",
        broken('<th scope="col">Model</th>', "<td>Model</td>"),
        ['table: table "Modelcredit": table without header cells (<th>)'],
    ),
    (
        "focus without an outline",
        broken("button:focus-visible { outline: 3px solid #0b3d91 }", "button:focus { outline: none }"),
        [
            'keyboard: button "Filter": no visible focus: outline none ',  # the width and colour vary by version
        ],
    ),
    (
        "an outline that focus does not change",
        broken("button:focus-visible { outline: 3px solid #0b3d91 }", "button { outline: 3px solid #0b3d91 }"),
        [
            (
                'keyboard: button "Filter": no visible focus: outline solid 3px rgb(11, 61, 145), box-shadow none '
                "(unfocused: outline solid 3px, box-shadow none)"
            )
        ],
    ),
    (
        "a clickable div the keyboard cannot reach",
        broken("<h2>Table</h2>", '<h2>Table</h2><div role="button">Sort</div>'),
        ['keyboard: div "Sort": not reachable with the keyboard (tabIndex -1)'],
    ),
]


@pytest.mark.parametrize(("fault", "html", "expected"), FAULTS, ids=[fault for fault, _, _ in FAULTS])
def test_each_accessibility_check_fails_on_its_own_fault(
    tmp_path: Path, fault: str, html: str, expected: list[str]
) -> None:
    require_chromium()
    found = audited(tmp_path, "broken", html)
    assert len(found) == len(expected), (fault, found)
    for line, start in zip(found, expected, strict=True):
        assert line.startswith(start), (fault, line)


def test_focus_shown_by_a_box_shadow_counts(tmp_path: Path) -> None:
    require_chromium()
    html = broken(
        "button:focus-visible { outline: 3px solid #0b3d91 }",
        "button:focus { outline: none; box-shadow: 0 0 0 3px #0b3d91 }",
    )
    assert audited(tmp_path, "shadow", html) == []
