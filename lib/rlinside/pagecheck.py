"""Open every page of a built book in headless Chromium and report what a reader would meet:
console errors, failed requests, broken images, videos whose file is missing, and each page's
weight (the bytes of the page and of everything it loads, except the theme's shared files under
``_static/``). Used by the book's browser test and by ``scripts/page_weight.py`` on the full build.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

#: The most one page may weigh, with the media it loads (not counting the theme's files).
PAGE_LIMIT_BYTES = 5_000_000


def chromium() -> str | None:
    """The path of a Chromium-family browser on this machine, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageReport:
    """What :func:`check_pages` found."""

    pages: list[str] = field(default_factory=list)  #: pages visited, relative to the HTML root
    problems: list[str] = field(default_factory=list)  #: one line per problem
    weights: dict[str, int] = field(default_factory=dict)  #: page -> bytes of it and its own loads
    image_widths: dict[str, list[int]] = field(default_factory=dict)  #: page -> natural width of each image

    def too_heavy(self, limit: int = PAGE_LIMIT_BYTES) -> dict[str, int]:
        """The pages heavier than ``limit`` bytes."""
        return {p: w for p, w in self.weights.items() if w > limit}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no line per request on stderr
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):  # the browser hung up
            super().handle_error(request, client_address)


def _aborted_media(request) -> bool:
    """A video or audio request the browser dropped itself (leaving the page, or having read
    enough of the file): not a broken link (the video's file is checked separately)."""
    return request.resource_type == "media" and "ERR_ABORTED" in (request.failure or "")


def _head(url: str) -> str:
    """``"<status> <content type>"`` of a HEAD request to ``url`` (outside the browser)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=10) as r:
            return f"{r.status} {r.headers.get('Content-Type')}"
    except urllib.error.HTTPError as e:
        return f"{e.code} {e.headers.get('Content-Type')}"


def check_pages(html_root: Path, exe: str) -> PageReport:
    """Serve ``html_root`` on a local port and visit every HTML page (but ``_static`` and
    ``_sources``) with the browser ``exe``."""
    from playwright.sync_api import sync_playwright

    html_root = Path(html_root)
    handler = functools.partial(_QuietHandler, directory=str(html_root))
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    report = PageReport(pages=sorted(str(p.relative_to(html_root)) for p in html_root.rglob("*.html")
                                     if "_static" not in p.parts and "_sources" not in p.parts))
    problems = report.problems
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=exe, headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            )
            page = browser.new_page()
            current = {"url": ""}

            def on_response(r) -> None:
                if r.status >= 400:
                    problems.append(f"{current['url']}: HTTP {r.status}: {r.url}")
                if "/_static/" not in r.url and r.url.startswith(base):
                    size = r.headers.get("content-length")
                    report.weights[current["url"]] = report.weights.get(current["url"], 0) + int(size or 0)

            page.on("console", lambda m: problems.append(
                f"{current['url']}: console {m.type}: {m.text} at {m.location.get('url')}")
                if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"{current['url']}: page error: {e}"))
            page.on("requestfailed", lambda r: None if _aborted_media(r) else problems.append(
                f"{current['url']}: request failed: {r.url} ({r.failure})"))
            page.on("response", on_response)
            for rel in report.pages:
                current["url"] = rel
                report.weights[rel] = 0
                page.goto(base + rel, wait_until="load")
                page.wait_for_load_state("networkidle")
                try:  # large images may still be decoding
                    page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=15000)
                except Exception:
                    pass  # reported below as broken images
                broken = page.evaluate(
                    "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
                    ".map(i => i.src)")
                problems += [f"{rel}: broken image {src}" for src in broken]
                report.image_widths[rel] = page.evaluate("Array.from(document.images).map(i => i.naturalWidth)")
                sources = page.evaluate("Array.from(document.querySelectorAll('video source')).map(s => s.src)")
                problems += [f"{rel}: video {src} answers {answer}" for src, answer in
                             ((src, _head(src)) for src in sources) if answer != "200 video/mp4"]
            browser.close()
    finally:
        server.shutdown()
    return report
