"""The README and the documentation site: every code block runs, every page is linked, the site
builds without a warning, and its pages render in a browser with their math and images."""

import http.server
import json
import linecache
import os
import pathlib
import re
import shutil
import subprocess
import sys
import threading

import jax.numpy as jnp
import pytest

import gaussjax

ROOT = pathlib.Path(__file__).parent.parent
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(path: pathlib.Path) -> list[str]:
    return PYTHON_BLOCK.findall(path.read_text())


def the_readme_example_says_what_it_claims(namespace):
    assert namespace["dZ_dK"].shape == (3, 2)
    assert namespace["report"].dmean_dK.shape == (4, 3, 2)
    assert jnp.allclose(namespace["report"].contraction, namespace["dZ_dK"])
    assert jnp.allclose(namespace["report"].value, namespace["Z"])


CLAIMS = {README: the_readme_example_says_what_it_claims}
"""What a page's code claims beyond running, checked in the namespace its blocks leave."""


@pytest.mark.parametrize("path", [README, *PAGES], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_python_block_runs_in_order_as_a_reader_would(path):
    blocks = python_blocks(path)
    namespace = {"__name__": f"docs_{path.stem.replace('-', '_')}"}
    for number, block in enumerate(blocks, 1):
        name = f"{path.name}, python block {number}"
        linecache.cache[name] = (len(block), None, block.splitlines(True), name)  # tracebacks
        exec(compile(block, name, "exec"), namespace)
    CLAIMS.get(path, lambda namespace: None)(namespace)


def test_the_readme_is_a_short_front_door_that_links_every_page():
    text = README.read_text()
    assert len(text) < 8000, f"README.md has {len(text)} characters; move detail into docs/"
    missing = [p.name for p in PAGES if f"(docs/{p.name}" not in text]
    assert not missing, f"README.md does not link {missing}"


def test_the_api_reference_documents_every_public_name():
    documented = set(
        re.findall(r"^::: gaussjax\.(\w+)", (ROOT / "docs" / "api.md").read_text(), re.M)
    )
    public = {name for name in dir(gaussjax) if not name.startswith("_")}
    assert public <= documented, f"docs/api.md lacks {sorted(public - documented)}"


MAIN_PAGES = {
    # page: (has math, has images)
    "": (True, False),
    "getting-started/": (False, False),
    "the-question/": (True, True),
    "rules/": (True, True),
    "estimators/": (True, False),
    "custom/": (True, False),
    "demo/": (True, True),
    "notebooks/": (False, True),
    "notebooks/the_question/": (True, True),
    "api/": (True, False),
}
"""Pages that must exist and show typeset math and loaded images; every other page of the site
is opened too and must have no math error and no broken image."""


def build_site(site: pathlib.Path) -> None:
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)]
    env = os.environ | {"NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr[-4000:]}"


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


class BrowserCheck:
    """Serves the built site on a local port, with tests/browser_check.html at /__check__.html,
    and receives what that page found in each page of the site."""

    def __init__(self, site: pathlib.Path, pages: list[str]):
        page = (ROOT / "tests" / "browser_check.html").read_text()
        self.page = page.replace("PAGES", json.dumps(pages)).encode()
        self.results = None
        self.posted = threading.Event()
        check = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(site), **kwargs)

            def do_GET(self):
                if self.path == "/__check__.html":
                    return self.reply(check.page)
                if self.path == "/__done__":  # holds the check page's load event
                    check.posted.wait(timeout=120)
                    return self.reply(b"")
                return super().do_GET()

            def do_POST(self):
                length = int(self.headers["Content-Length"])
                check.results = json.loads(self.rfile.read(length))
                check.posted.set()
                self.reply(b"")

            def reply(self, body: bytes):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    def run(self, browser: str) -> list[dict]:
        """Open the check page in headless Chromium, one process for every page; return what
        each page showed, as a dict."""
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{self.server.server_address[1]}/__check__.html"
            flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
            command = [browser, *flags, "--dump-dom", url]
            out = subprocess.run(command, capture_output=True, text=True, timeout=150)
        finally:
            self.server.shutdown()
            self.server.server_close()
        assert self.results is not None, f"the pages were not checked:\n{out.stderr[-3000:]}"
        return self.results


def test_the_site_builds_strictly_and_its_pages_render_in_a_browser(tmp_path):
    site = tmp_path / "site"
    build_site(site)
    pages = sorted(
        p.parent.relative_to(site).as_posix().removeprefix(".") + "/"
        for p in site.glob("**/index.html")
    )
    pages = [p.lstrip("/") for p in pages]
    assert set(MAIN_PAGES) <= set(pages), (
        f"pages missing from the site: {set(MAIN_PAGES) - set(pages)}"
    )
    notebooks = {f"notebooks/{p.stem}/" for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert notebooks <= set(pages), "every notebook is a page of the site"

    browser = chromium()
    if browser is None:
        message = "the site builds; Chromium is not installed, so no page was opened"
        if os.environ.get("GAUSSJAX_REQUIRE_BROWSER"):
            pytest.fail(message + " (make test installs it: see the Makefile)")
        pytest.skip(message)
    shown_by_url = BrowserCheck(site, ["/" + p for p in pages]).run(browser)
    results = {r["url"]: r for r in shown_by_url}
    for page in pages:
        shown = results["/" + page]
        assert "exception" not in shown, shown
        assert shown["h1"], f"{page}: no title"
        assert shown["mathjax"], f"{page}: MathJax did not load"
        assert shown["mathErrors"] == 0 and shown["rawMath"] == 0, (
            f"{page}: math not typeset {shown}"
        )
        assert not shown["brokenImages"], (
            f"{page}: images that did not load {shown['brokenImages']}"
        )
        has_math, has_images = MAIN_PAGES.get(page, (False, False))
        assert shown["math"] > 0 or not has_math, f"{page}: no typeset math"
        assert shown["images"] > 0 or not has_images, f"{page}: no image"
