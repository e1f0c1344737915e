"""The built web book in a real headless browser: Debian's chromium, driven through Debian's
chromium-driver by selenium (no browser is downloaded), on a server of the site on 127.0.0.1.

    make docs-test        # builds the site if needed, installs chromium when missing, runs this

Checks: every lesson page loads without a console error, shows every figure and GIF of its
notebook decoded (naturalWidth > 0), typesets its maths (MathJax output, no `$...$` left in the
prose), has its "Open in Colab" and "Download notebook" links (the download is the committed
notebook); every internal link of every page resolves (file and #anchor); the search finds
"gradient penalty" in lesson 04; the API page of `GAN` lists its arguments and shows its
train_step as Algorithm 1. A screenshot of each lesson's first screen goes to
build/screenshots/. Without chromium or chromedriver the test fails and says how to install them.
"""
from __future__ import annotations

import functools
import html.parser
import http.server
import json
import os
import re
import shutil
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("GANLIB_SITE", ROOT / "build" / "html"))
SCREENSHOTS = Path(os.environ.get("GANLIB_SCREENSHOTS", ROOT / "build" / "screenshots"))
LESSONS = sorted(path.stem for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
INSTALL = ("install Debian's packages: apt-get install -y chromium chromium-driver "
           "(make docs-test does this when it runs as root)")

# --- the site, served on 127.0.0.1 --------------------------------------------------------


@pytest.fixture(scope="session")
def site() -> Path:
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no built site at {SITE}: run `make docs` first")
    return SITE


@pytest.fixture(scope="session")
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


# --- the browser ---------------------------------------------------------------------------


def _find(names, paths):
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return next((path for path in paths if os.access(path, os.X_OK)), None)


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is not installed: pip install -r requirements-docs.txt (make docs-test)")
    chromium = _find(["chromium", "chromium-browser"], ["/usr/bin/chromium", "/usr/lib/chromium/chromium"])
    driver_path = _find(["chromedriver"], ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"])
    if chromium is None or driver_path is None:
        pytest.fail(f"the browser test needs Chromium and ChromeDriver, and "
                    f"{'chromium' if chromium is None else 'chromedriver'} was not found: {INSTALL}")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-quic", "--no-first-run", "--disable-extensions", "--window-size=1280,900",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


def _open(browser, url):
    """Load ``url``, wait for MathJax to finish typesetting, and return the console's errors."""
    browser.get_log("browser")  # drop what earlier pages logged
    browser.get(url)
    browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const wait = () => window.MathJax && MathJax.startup && MathJax.startup.promise"
        "  ? MathJax.startup.promise.then(() => done(true), () => done(false))"
        "  : (document.readyState === 'complete' ? done(null) : setTimeout(wait, 50));"
        "wait();")
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def _notebook(name):
    return json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())


def _expected_figures(notebook):
    """How many PNG figures and GIF animations the notebook's committed outputs hold."""
    png = gif = 0
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/gif" in data:
                gif += 1
            elif "image/png" in data:
                png += 1
    return png, gif


def _has_maths(notebook):
    return any("$" in "".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown")


# The prose of a page, without code, outputs and typeset maths: where a raw $...$ would show.
PROSE = """
const article = document.querySelector('main article') || document.querySelector('main');
const copy = article.cloneNode(true);
copy.querySelectorAll('pre, code, .cell_output, .output, mjx-container, script, style')
    .forEach(node => node.remove());
return copy.textContent;
"""

IMAGES = """
return Array.from(document.querySelectorAll('main img')).map(img => ({
    src: img.currentSrc || img.src, complete: img.complete, width: img.naturalWidth,
    in_output: !!img.closest('.cell_output, .output')}));
"""

# --- the lessons ---------------------------------------------------------------------------


def test_every_notebook_is_a_lesson_page(site):
    assert len(LESSONS) >= 8, LESSONS
    missing = [name for name in LESSONS if not (site / "lessons" / f"{name}.html").is_file()]
    assert not missing, f"lessons without a page: {missing}"


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_page(browser, server, name):
    notebook = _notebook(name)
    errors = _open(browser, f"{server}lessons/{name}.html")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    assert not errors, f"console errors on {name}: {errors}"
    assert browser.title.strip(), "the page has no title"

    images = browser.execute_script(IMAGES)
    broken = [image["src"] for image in images if not image["complete"] or image["width"] <= 0]
    assert not broken, f"images not decoded on {name}: {broken}"
    png, gif = _expected_figures(notebook)
    shown = [image for image in images if image["in_output"]]
    shown_gif = [image for image in shown if image["src"].lower().endswith(".gif")]
    assert len(shown_gif) == gif, f"{name}: {len(shown_gif)} GIFs shown, the notebook has {gif}"
    assert len(shown) - len(shown_gif) == png, f"{name}: {len(shown) - len(shown_gif)} figures shown, the notebook has {png}"
    assert not [image for image in images if image["src"].startswith("http") and server not in image["src"]], \
        "an image is loaded from another host"

    if _has_maths(notebook):
        typeset = browser.execute_script("return document.querySelectorAll('mjx-container').length")
        assert typeset > 0, f"{name} has maths but nothing was typeset"
    prose = browser.execute_script(PROSE)
    raw = re.findall(r"\$\$.+?\$\$|\$[^$\s][^$]*?\$", prose, flags=re.S)
    assert not raw, f"raw maths left on {name}: {raw[:5]}"

    links = browser.execute_script(
        "return Array.from(document.querySelectorAll('p.lesson-links a')).map(a => a.href)")
    colab = [link for link in links if link.startswith("https://colab.research.google.com/github/")]
    assert colab and colab[0].endswith(f"/notebooks/{name}.ipynb"), f"{name}: Open in Colab link: {links}"
    download = [link for link in links if link.endswith(f"_sources/lessons/{name}.ipynb")]
    assert download, f"{name}: no Download notebook link: {links}"
    with urllib.request.urlopen(download[0]) as response:
        assert response.read() == (ROOT / "notebooks" / f"{name}.ipynb").read_bytes()


# --- links, search, the API ----------------------------------------------------------------


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.targets, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        if tag == "a" and attrs.get("href"):
            self.targets.append(attrs["href"])
        if tag in ("img", "script") and attrs.get("src"):
            self.targets.append(attrs["src"])
        if tag == "link" and attrs.get("href") and "stylesheet" in (attrs.get("rel") or ""):
            self.targets.append(attrs["href"])


@functools.lru_cache(maxsize=None)
def _page(url):
    with urllib.request.urlopen(url) as response:
        parser = _Links()
        parser.feed(response.read().decode("utf-8", "replace"))
    return parser


def test_every_internal_link_resolves(site, server):
    pages = sorted(path.relative_to(site).as_posix() for path in site.rglob("*.html")
                   if not path.relative_to(site).as_posix().startswith(("_static/", "_sources/")))
    assert len(pages) >= len(LESSONS) + 10, pages
    checked, broken = 0, []
    for page in pages:
        base = server + page
        for target in _page(base).targets:
            url = urllib.parse.urljoin(base, target)
            if not url.startswith(server):
                continue  # another host: not part of the site
            address, _, fragment = url.partition("#")
            address = address.split("?")[0]
            try:
                if address.endswith(".html") or address.endswith("/"):
                    ids = _page(address).ids
                    if fragment and urllib.parse.unquote(fragment) not in ids:
                        broken.append(f"{page}: {target} (no #{fragment})")
                else:
                    urllib.request.urlopen(urllib.request.Request(address, method="HEAD")).close()
            except OSError as error:
                broken.append(f"{page}: {target} ({error})")
            checked += 1
    assert checked > 500, checked
    assert not broken, f"{len(broken)} broken links of {checked}: {broken[:20]}"


def test_search_finds_gradient_penalty_in_lesson_04(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    errors = _open(browser, f"{server}search.html?q=gradient+penalty")
    WebDriverWait(browser, 30).until(
        lambda driver: driver.find_elements(By.CSS_SELECTOR, "#search-results ul.search li a"))
    results = [link.get_attribute("href") for link in
               browser.find_elements(By.CSS_SELECTOR, "#search-results ul.search li a")]
    assert any("lessons/04_wgan_gp.html" in result for result in results), results
    assert not errors, errors


def test_api_page_of_gan_lists_its_arguments(browser, server):
    from selenium.webdriver.common.by import By

    errors = _open(browser, f"{server}api/ganlib.train.html")
    assert not errors, errors
    gan = browser.find_element(By.ID, "ganlib.train.GAN")
    signature = {element.text for element in gan.find_elements(By.CSS_SELECTOR, "em.sig-param span.n")}
    description = gan.find_element(By.XPATH, "..").text
    for argument in ("generator", "discriminator", "latent_dim", "d_steps", "label_smoothing",
                     "generator_loss", "seed", "augment", "loss", "r1_weight", "r1_every", "ema_decay"):
        assert argument in signature, f"{argument} missing from GAN's signature {sorted(signature)}"
        assert re.search(rf"\b{argument}\b", description), f"{argument} is not described on GAN's page"
    assert "Goodfellow et al. 2014" in description
    article = browser.find_element(By.CSS_SELECTOR, "main article").text
    assert "Algorithm 1" in article and "def train_step(self, data):" in article
