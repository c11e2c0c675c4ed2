"""The built book: it builds offline without warnings, and every page works in a real browser.

A session fixture runs ``jupyter-book build . -W -n --keep-going`` from the repository root (the same
command as ``make book``) into ``_build/html``.  The browser tests serve that folder on 127.0.0.1 and
drive Debian's Chromium through Playwright.  Every request that leaves 127.0.0.1 is aborted, as on
the offline test machine (require.js and the widget manager come from CDNs at view time; MathJax is
served from book/_static);
failures to load those blocked URLs are the only errors ignored.

The browser tests are skipped only when ``/usr/bin/chromium`` is missing and ``CI`` is unset;
under CI a missing Chromium fails them.
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
COLAB_PREFIX = "https://colab.research.google.com/github/lsmooth-book/lsmooth/blob/main/"
# ipykernel >= 7 logs this on every kernel start (nbclient uses TCP); it is not a Sphinx warning.
BENIGN_LOG_LINES = ("Kernel is running over TCP without encryption",)


def toc_pages() -> list[str]:
    """Every document of ``_toc.yml`` (root first), as paths without extension."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return pages


CHAPTERS = [p for p in toc_pages() if p.startswith("book/chapters/")]
NOTEBOOKS = [p for p in toc_pages() if (ROOT / f"{p}.ipynb").is_file()]

# The code column of a page, measured in Chromium (tests/test_book.py's browser) at 1280 x 720, Playwright's default
# window and a common laptop width: a code cell's <pre> is 666 px wide, 634 px inside its padding, and the theme's
# monospace font (DejaVu Sans Mono here, 14 px) takes 8.43 px per character: 75 characters fit without a
# horizontal scrollbar (from 1440 px on, the theme's widest column, 768 px, holds 87).  Longer lines are cut off
# behind a scrollbar, so code cells stay within 75 characters (test_code_cells_fit_the_code_column), and the
# browser checks that no code cell scrolls (test_no_code_cell_scrolls).
CODE_WIDTH = 75
VIEWPORT = {"width": 1280, "height": 720}


def jupyter_book_command() -> list[str]:
    """The ``jupyter-book`` of the environment that runs the tests."""
    beside = Path(sys.executable).with_name("jupyter-book")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("jupyter-book")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; sys.exit(main())"]


def build_env() -> dict[str, str]:
    """The Makefile's defaults, for runs that do not go through ``make``."""
    env = dict(os.environ)
    shared = ROOT.parent / "shared" / "data"
    if "LSMOOTH_DATA" not in env and shared.is_dir():
        env["LSMOOTH_DATA"] = str(shared.resolve())
    env.setdefault("LSMOOTH_CACHE", str(ROOT / ".cache"))
    env.setdefault("OMP_NUM_THREADS", "2")
    env.setdefault("MKL_NUM_THREADS", "2")
    return env


# ---------------------------------------------------------------- the sources (no build needed)
def notebook(page: str):
    return nbformat.read(ROOT / f"{page}.ipynb", as_version=4)


def code_cells(page: str):
    return [c for c in notebook(page).cells if c.cell_type == "code"]


def tags(cell) -> set:
    return set(cell.metadata.get("tags", []))


FIGURE_CALL = re.compile(r"(?<!partial\()\b(?:plots|DG)\.(?:draw_\w+|static_sliders)\(")


def figure_cells(page: str):
    """The executed code cells that display a figure (a drawing function or a precomputed slider)."""
    return [c for c in code_cells(page) if FIGURE_CALL.search(c.source) and "skip-execution" not in tags(c)]


@pytest.mark.parametrize("page", NOTEBOOKS)
def test_code_cells_fit_the_code_column(page):
    long = [f"{len(line)}: {line}" for c in code_cells(page) for line in c.source.split("\n")
            if len(line) > CODE_WIDTH]
    assert not long, f"{page}: code lines wider than the page's code column ({CODE_WIDTH}):\n" + "\n".join(long)


@pytest.mark.parametrize("page", CHAPTERS)
def test_figures_have_numbered_captions(page):
    """Every figure a chapter shows is a numbered figure with a caption (myst-nb's cell metadata)."""
    for cell in figure_cells(page):
        fig = cell.metadata.get("mystnb", {}).get("figure", {})
        assert fig.get("caption", "").strip() and str(fig.get("name", "")).startswith("fig-"), \
            f"{page}: figure cell without a caption or name:\n{cell.source[:200]}"
        assert "not trained" not in cell.source, f"{page}: a development fallback in a figure cell"


def test_figure_names_are_unique():
    names = [c.metadata["mystnb"]["figure"]["name"] for p in CHAPTERS for c in figure_cells(p)
             if "figure" in c.metadata.get("mystnb", {})]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("page", CHAPTERS)
def test_slider_frames_are_sharp(page):
    from lsmooth_lib.plots import MIN_DPI
    for cell in code_cells(page):
        for dpi in re.findall(r"static_sliders\([^)]*?dpi=(\d+)", cell.source, re.S):
            assert int(dpi) >= MIN_DPI, f"{page}: slider frames at {dpi} dpi"


@pytest.mark.parametrize("page", CHAPTERS)
def test_live_widgets_are_not_executed_and_start_at_the_static_values(page):
    """A live widget's output needs a kernel: the build must not execute it (it would leave a dead widget in the
    static page), and in Jupyter it starts where the precomputed slider before it starts."""
    cells = code_cells(page)
    for i, cell in enumerate(cells):
        if not re.search(r"plots\.(live_sliders|explore_\w+)\(", cell.source):
            continue
        assert {"skip-execution", "nbval-skip"} <= tags(cell), f"{page}: live widget cell is executed:\n{cell.source}"
        static = next(c for c in reversed(cells[:i]) if "static_sliders(" in c.source)
        start = re.search(r"initial=(\w+)", static.source)
        assert start, f"{page}: the static slider before a live one names its start values in a variable"
        assert re.search(rf"\b{start.group(1)}\b", cell.source), \
            f"{page}: the live widget does not start at the static slider's values ({start.group(1)})"


# ---------------------------------------------------------------- the build
@pytest.fixture(scope="session")
def built_book():
    """Build the book once per session; returns (html folder, build log)."""
    t0 = time.perf_counter()
    proc = subprocess.run(jupyter_book_command() + ["build", ".", "-W", "-n", "--keep-going"], cwd=ROOT,
                          env=build_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = proc.stdout
    (ROOT / "_build").mkdir(exist_ok=True)
    (ROOT / "_build" / "test_book_build.log").write_text(log)
    print(f"\njupyter-book build took {time.perf_counter() - t0:.1f} s")
    assert proc.returncode == 0, f"jupyter-book build failed (exit {proc.returncode}):\n{log[-8000:]}"
    return HTML, log


def test_build_log_is_clean(built_book):
    _, log = built_book
    warnings = [line for line in log.splitlines()
                if "WARNING" in line and not any(b in line for b in BENIGN_LOG_LINES)]
    assert not warnings, "build log has warnings:\n" + "\n".join(warnings)
    for bad in ("Executing notebook failed", "Execution Failed", "Traceback (most recent call last)"):
        assert bad not in log, f"build log contains {bad!r}"


def test_every_toc_page_is_built(built_book):
    html, _ = built_book
    missing = [p for p in toc_pages() if not (html / f"{p}.html").is_file()]
    assert not missing, f"pages in _toc.yml without HTML: {missing}"
    assert (html / "index.html").is_file()


def test_status_page_lists_chapter_execution(built_book):
    html, _ = built_book
    text = (html / "book" / "status.html").read_text()
    missing = [c for c in CHAPTERS if c not in text]
    assert not missing, f"the {{nb-exec-table}} does not list {missing}"
    assert "torch" in text and "jupyter-book" in text


def test_references_page_renders_bibliography(built_book):
    html, _ = built_book
    text = (html / "book" / "references.html").read_text()
    assert "When does label smoothing help?" in text
    assert "Müller" in text


# ---------------------------------------------------------------- the browser
@pytest.fixture(scope="session")
def server(built_book):
    """Serve ``_build/html`` on 127.0.0.1 (random free port) in a thread; yields the base URL."""
    html, _ = built_book

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(html)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (install it: apt-get install -y chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}")
        pytest.skip(f"browser tests need Chromium: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class PageProbe:
    """A page whose external requests are blocked and whose errors are recorded."""

    def __init__(self, browser):
        self.page = browser.new_page()
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.page.route("**/*", self._route)
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on("console", self._console)

    def _route(self, route):
        url = route.request.url
        if urlparse(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")

    def _console(self, msg):
        if msg.type != "error":
            return
        where = (msg.location or {}).get("url", "")
        # The only tolerated errors: the browser reporting that a blocked external URL did not load.
        if "ERR_BLOCKED_BY_CLIENT" in msg.text or (where and where in self.blocked):
            return
        self.errors.append(f"console: {msg.text} ({where})")

    def open(self, url: str):
        response = self.page.goto(url, wait_until="load")
        self.page.wait_for_timeout(300)  # let deferred scripts run and report
        return response

    def images(self) -> list[dict]:
        """All <img> on the page after forcing lazy ones to load: src, naturalWidth."""
        self.page.evaluate("document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
        self.page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        self.page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=15000)
        return self.page.evaluate(
            "Array.from(document.images).map(i => ({src: i.currentSrc || i.src, width: i.naturalWidth}))")

    def close(self):
        self.page.close()


@pytest.fixture
def probe(browser):
    p = PageProbe(browser)
    yield p
    p.close()


@pytest.mark.parametrize("page", toc_pages())
def test_page_loads_without_errors(server, probe, page):
    response = probe.open(f"{server}/{page}.html")
    assert response is not None and response.status == 200, f"{page}: HTTP {response and response.status}"
    images = probe.images()
    broken = [i["src"][:120] for i in images if i["width"] == 0]
    assert not broken, f"{page}: images that did not render: {broken}"
    assert not probe.errors, f"{page}: errors in the browser:\n" + "\n".join(probe.errors)


def test_index_redirects_to_preface(server, probe):
    response = probe.open(f"{server}/index.html")
    assert response.status == 200
    probe.page.wait_for_url(re.compile(r".*/book/intro\.html$"), timeout=10000)
    assert not probe.errors, "\n".join(probe.errors)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_has_figures(server, probe, chapter):
    probe.open(f"{server}/{chapter}.html")
    images = probe.images()
    assert len(images) >= 2, f"expected figures on the chapter page, found {len(images)} images"
    assert all(i["width"] > 0 for i in images)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_static_slider_changes_frame(server, probe, chapter):
    probe.open(f"{server}/{chapter}.html")
    slider = probe.page.locator(".ls-slider").first
    assert slider.count() == 1, "no precomputed slider (.ls-slider) on the chapter page"
    frame = slider.locator("img.ls-frame")
    before = frame.get_attribute("src")
    assert before and before.startswith("data:image/png")
    range_input = slider.locator("input[type=range]").first
    current = range_input.evaluate("el => el.value")
    range_input.evaluate(
        "el => { el.value = (el.value === el.max) ? el.min : el.max;"
        " el.dispatchEvent(new Event('input', {bubbles: true})); }")
    assert range_input.evaluate("el => el.value") != current
    after = frame.get_attribute("src")
    assert after and after != before, "moving the slider did not change the frame"
    assert probe.page.evaluate(
        "() => Array.from(document.querySelectorAll('.ls-slider img.ls-frame')).every(i => i.naturalWidth > 0)")
    assert not probe.errors, "\n".join(probe.errors)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_colab_link(server, probe, chapter):
    probe.open(f"{server}/{chapter}.html")
    hrefs = probe.page.eval_on_selector_all(
        "a[href*='colab.research.google.com']", "els => els.map(e => e.getAttribute('href'))")
    assert hrefs, "no Colab launch link on the chapter page"
    assert set(hrefs) == {f"{COLAB_PREFIX}{chapter}.ipynb"}, f"Colab links: {sorted(set(hrefs))}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_has_math(server, probe, chapter):
    response = probe.open(f"{server}/{chapter}.html")
    source = response.text()
    assert 'class="math' in source, "no math spans in the chapter"
    assert "\\(" in source or "\\[" in source, "no TeX delimiters in the chapter source"
    assert probe.page.locator(".math").count() > 0
    # MathJax is served by the book itself (book/_static/mathjax), so it typesets even offline.
    assert not [u for u in probe.blocked if "mathjax" in u.lower()], "MathJax was requested from outside the book"
    probe.page.wait_for_selector("mjx-container", state="attached", timeout=20000)
    assert probe.page.locator("mjx-container").count() >= 10, "MathJax did not typeset the chapter's math"
    assert not probe.errors, "\n".join(probe.errors)


def _executed(page: str):
    """The notebook as the build executed it (myst-nb keeps a copy in _build/jupyter_execute)."""
    path = ROOT / "_build" / "jupyter_execute" / f"{page}.ipynb"
    return nbformat.read(path, as_version=4) if path.is_file() else None


MARKDOWN_TABLE = re.compile(r"^\s*\|.*\|\s*$\n^\s*\|?\s*:?-{3,}", re.M)


@pytest.mark.parametrize("page", NOTEBOOKS)
def test_every_output_table_renders_as_a_table(server, probe, page):
    """Markdown a cell outputs (appendix A's "Every claim", appendix B's zoo) must become <table>s, not a paragraph
    of pipes and dashes (myst-nb's default CommonMark has no tables)."""
    nb = _executed(page)
    if nb is None:
        pytest.skip(f"{page} has no executed copy in _build/jupyter_execute")
    expected = sum(len(MARKDOWN_TABLE.findall(o["data"]["text/markdown"])) for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []) if "text/markdown" in o.get("data", {}))
    probe.open(f"{server}/{page}.html")
    tables = probe.page.locator(".cell_output table").count()
    assert tables >= expected, f"{page}: {expected} markdown tables in the outputs, {tables} <table> on the page"
    pipes = probe.page.evaluate(
        "() => Array.from(document.querySelectorAll('.cell_output p'))"
        ".map(p => p.textContent).filter(t => /\\|\\s*:?-{3,}/.test(t)).map(t => t.slice(0, 120))")
    assert not pipes, f"{page}: markdown tables rendered as paragraphs: {pipes}"


@pytest.mark.parametrize("page", toc_pages())
def test_no_widget_output_needs_a_kernel(server, probe, page):
    """No page carries widget output: in the static book a widget is a dead placeholder without a kernel."""
    response = probe.open(f"{server}/{page}.html")
    source = response.text()
    assert "application/vnd.jupyter.widget-view+json" not in source, f"{page}: widget output in the page"
    assert "application/vnd.jupyter.widget-state+json" not in source, f"{page}: widget state in the page"
    dead = probe.page.locator(".jupyter-widgets, .widget-area, [class*='jupyter-widget']").count()
    assert dead == 0, f"{page}: {dead} widget placeholders"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_code_cell_scrolls(server, browser, chapter):
    """At 1280 x 720 every code cell fits the page's code column (no horizontal scrollbar hides its end)."""
    page = browser.new_page(viewport=VIEWPORT)
    try:
        page.route("**/*", lambda r: r.continue_() if urlparse(r.request.url).hostname == "127.0.0.1" else r.abort())
        page.goto(f"{server}/{chapter}.html", wait_until="load")
        wide = page.evaluate(
            "() => Array.from(document.querySelectorAll('div.cell_input pre'))"
            ".filter(p => p.scrollWidth > p.clientWidth + 1).map(p => p.textContent.split('\\n')[0].slice(0, 80))")
        assert not wide, f"{chapter}: code cells that scroll sideways: {wide}"
    finally:
        page.close()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_figures_are_numbered_on_the_page(server, probe, chapter):
    probe.open(f"{server}/{chapter}.html")
    captioned = [c for c in figure_cells(chapter) if "figure" in c.metadata.get("mystnb", {})]
    numbers = probe.page.eval_on_selector_all("figure figcaption .caption-number", "els => els.map(e => e.textContent)")
    assert len(numbers) == len(captioned), f"{chapter}: {len(captioned)} captioned figure cells, numbers {numbers}"
    assert all(n.startswith("Fig.") for n in numbers)
    for name in (c.metadata["mystnb"]["figure"]["name"] for c in captioned):
        assert probe.page.locator(f"figure[id='{name}']").count() == 1, f"{chapter}: no figure #{name}"
