"""Checks of the built book in a real browser (Chromium driven by Playwright).

Used by tests/test_book.py; kept apart so that the checks read top to bottom.
"""
import functools
import http.server
import shutil
import threading
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
# Flags that keep a headless Chromium from calling home (the machine has no network) and
# let it run as root in a container.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-default-apps", "--disable-extensions"]


def chromium_missing_reason():
    """None when the browser test can run, else why not (naming what to install)."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (make test installs it)"
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        return "Chromium is missing: install the Debian package 'chromium' (apt-get install chromium)"
    return None


class LocalServer:
    """Serve a folder on 127.0.0.1 (a free port) in a background thread."""

    def __init__(self, folder):
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


# The text of the page outside code blocks, after MathJax has typeset it.
_TEXT_OUTSIDE_CODE = """() => {
  const main = document.querySelector('main') || document.body;
  const copy = main.cloneNode(true);
  copy.querySelectorAll('pre, code, script, style, mjx-container, .MathJax').forEach(e => e.remove());
  return copy.textContent;
}"""

_BROKEN_IMAGES = """() => Array.from(document.images)
  .filter(img => !(img.complete && img.naturalWidth > 0))
  .map(img => img.getAttribute('src'))"""


def inspect_page(page, url):
    """Load ``url`` and return what a reader would see wrong: a dict of lists."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    problems = {"console": [], "page_errors": [], "broken_images": [], "raw_math": []}
    page.on("console", lambda msg: problems["console"].append(f"{msg.text} ({msg.location.get('url')})")
            if msg.type == "error" else None)
    page.on("pageerror", lambda error: problems["page_errors"].append(str(error)))
    page.goto(url, wait_until="load")
    # Network idle lets a redirecting page (the landing page) arrive. It is waited for with a bound:
    # headless Chromium can hold a MathJax font request open for good (seen with MathJax_Size4 on
    # pages with large delimiters) although the server answers it at once.
    try:
        page.wait_for_load_state("networkidle", timeout=10_000)
    except PlaywrightTimeoutError:
        pass
    page.wait_for_load_state("load")
    has_math = page.evaluate("() => !!document.querySelector('.math, .MathJax, mjx-container, span.math')")
    if has_math:
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30000)
        page.evaluate("() => MathJax.startup.promise")
        problems["mathjax_output"] = page.locator("mjx-container").count()
    text = page.evaluate(_TEXT_OUTSIDE_CODE)
    problems["raw_math"] = [marker for marker in ("$$", "\\(", "\\[", "\\begin{") if marker in text]
    problems["broken_images"] = page.evaluate(_BROKEN_IMAGES)
    problems["images"] = page.locator("img").count()
    return problems
