"""The web console in a real headless Chromium (Debian's chromium + chromium-driver, through Selenium).

One browser for the session; a fresh live server (waitress on loopback, test driver) per test.
A failing test leaves a screenshot in var/ui-failures/; with UI_SCREENSHOTS=DIR set, the tests
also save the named screenshots docs/ui.md shows.
"""
import base64
import json
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

import pytest

from tests.client.conftest import server  # noqa: F401 (a live server on a free loopback port)
from tests.conftest import cloud  # noqa: F401 (the Cloud: admin, alice, bob on the test driver)

CHROMIUM = os.environ.get("UI_CHROMIUM", "/usr/bin/chromium")            # Debian's packages by default
CHROMEDRIVER = os.environ.get("UI_CHROMEDRIVER", "/usr/bin/chromedriver")
FAILURES = Path(__file__).resolve().parents[2] / "var" / "ui-failures"
# Root needs --no-sandbox; the rest keep Chromium from calling home (there is no network here).
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,900", "--lang=en-US"]
WAIT = 20


def api(server, user, password, method="GET", href="", body=None):
    """A plain HTTP request to the live server (the setup a script would do); (status, headers, document)."""
    url = href if href.startswith("http") else server.split("/cimi/")[0] + href
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode(),
        "Accept": "application/json", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        text = resp.read()
        return resp.status, dict(resp.headers), json.loads(text) if text.strip() else None


def first_id(server, key):
    """The id of the first item (by name) of a CloudEntryPoint collection, as alice sees it."""
    _, _, doc = api(server, "alice", "alice-pw", "GET", f"/cimi/{key}?$orderby=name:asc")
    return next(v for k, v in doc.items() if isinstance(v, list) and k != "operations")[0]["id"]


@pytest.fixture(scope="session")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            pytest.skip(f"UI TESTS SKIPPED: {path} is missing (apt-get install chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="cimi-ui-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM          # explicit paths: Selenium Manager downloads nothing
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    except WebDriverException as exc:
        shutil.rmtree(profile, ignore_errors=True)
        pytest.skip(f"UI TESTS SKIPPED: Chromium did not start: {exc.msg}")
    driver.implicitly_wait(0)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.ui_failed = report.failed


class Console:
    """The console page as a user drives it: sign in, go to a view, fill forms, wait for text."""

    def __init__(self, driver, base):
        from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait
        self.driver, self.base = driver, base
        # a list re-renders when a Job ends: an element read a moment ago may be gone, so look again
        self.ignored = (NoSuchElementException, StaleElementReferenceException)
        self.wait = WebDriverWait(driver, WAIT, poll_frequency=0.1, ignored_exceptions=self.ignored)

    def open(self, path="/ui/"):
        self.driver.get(self.base + path)

    def find(self, css, within=None):
        from selenium.webdriver.common.by import By
        return self.wait.until(lambda d: (within or d).find_element(By.CSS_SELECTOR, css))

    def all(self, css, within=None):
        from selenium.webdriver.common.by import By
        return (within or self.driver).find_elements(By.CSS_SELECTOR, css)

    def by_label(self, text, within=None):
        """The control a <label> names (what a screen reader announces)."""
        from selenium.webdriver.common.by import By

        def control(d):
            for label in (within or d).find_elements(By.TAG_NAME, "label"):
                if label.text.strip() == text and label.get_attribute("for") and label.is_displayed():
                    return d.find_element(By.ID, label.get_attribute("for"))
            return False
        return self.wait.until(control)

    def button(self, text, within=None):
        from selenium.webdriver.common.by import By

        def find(d):
            for b in (within or d).find_elements(By.TAG_NAME, "button"):
                if b.is_displayed() and b.is_enabled() and (b.text.strip() == text or b.get_attribute("aria-label") == text):
                    return b
            return False
        return self.wait.until(find)

    def link(self, text):
        """The link in the page content that reads `text`."""
        from selenium.webdriver.common.by import By
        return self.wait.until(lambda d: next((a for a in d.find_elements(By.CSS_SELECTOR, "main a") if a.text == text),
                                              False))

    def sign_in(self, user, password):
        self.open()
        if self.driver.execute_script("return sessionStorage.length"):      # someone else is signed in
            self.button("Sign out").click()
        self.by_label("User name").send_keys(user)
        self.by_label("Password").send_keys(password)
        self.button("Sign in").click()
        self.find("nav a[aria-current='page']")

    def go(self, view):
        self.driver.execute_script("location.hash = arguments[0]", f"#/{view}")
        return self.find("main h2")

    def expand(self, summary):
        from selenium.webdriver.common.by import By
        self.wait.until(lambda d: [s for s in d.find_elements(By.TAG_NAME, "summary") if s.text == summary])[0].click()

    def choose(self, label, option_text):
        from selenium.webdriver.support.ui import Select
        control = self.by_label(label)
        self.wait.until(lambda d: option_text in [o.text for o in Select(control).options])
        Select(control).select_by_visible_text(option_text)

    def text(self, css="main"):
        return self.find(css).text

    def until_text(self, needle, css="main"):
        self.wait.until(lambda d: needle in self.find(css).text, f"{needle!r} never appeared in {css}")

    def until_gone(self, needle, css="main"):
        self.wait.until(lambda d: needle not in self.find(css).text, f"{needle!r} stayed in {css}")

    def until(self, condition, timeout=WAIT, message=""):
        """Wait for condition(driver) like self.wait, up to timeout s; message may be a callable read at the end."""
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.2,
                                 ignored_exceptions=self.ignored).until(condition)
        except TimeoutException:
            raise AssertionError(message() if callable(message) else message) from None

    def job_done(self, label, timeout=WAIT):
        """Wait (up to timeout s) for the job tray entry `label` to end; return its text."""
        from selenium.webdriver.common.by import By

        def entry(d):
            for li in d.find_elements(By.CSS_SELECTOR, "#jobs li"):
                head = li.find_element(By.CSS_SELECTOR, ".label").text
                if head == label and ("ok" in li.get_attribute("class") or "failed" in li.get_attribute("class")):
                    return li
            return False
        li = self.until(entry, timeout, f"job {label!r} did not finish in {timeout} s")
        return li.text

    def row(self, name):
        """The table row whose Name cell is `name`."""
        from selenium.webdriver.common.by import By

        def find(d):
            for tr in d.find_elements(By.CSS_SELECTOR, "main tbody tr"):
                cells = tr.find_elements(By.CSS_SELECTOR, "td")
                if cells and cells[0].text == name:
                    return tr
            return False
        return self.wait.until(find, f"no row named {name!r}")

    def shot(self, name, width=1280, height=900):
        """Save a screenshot for docs/ui.md when UI_SCREENSHOTS names a directory."""
        target = os.environ.get("UI_SCREENSHOTS")
        if not target:
            return
        self.driver.set_window_size(width, height)
        os.makedirs(target, exist_ok=True)
        self.driver.save_screenshot(os.path.join(target, f"{name}.png"))
        self.driver.set_window_size(1280, 900)


@pytest.fixture
def console(browser, server, request):  # noqa: F811
    base = server.split("/cimi/")[0]
    page = Console(browser, base)
    browser.get_log("browser")                          # drop what earlier tests left
    yield page
    errors = [e["message"] for e in browser.get_log("browser")
              if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]]
    if getattr(request.node, "ui_failed", False):
        FAILURES.mkdir(parents=True, exist_ok=True)
        path = FAILURES / f"{request.node.name}.png"
        browser.save_screenshot(str(path))
        print(f"screenshot of the failure: {path}")
    browser.execute_script("sessionStorage.clear()")
    browser.get("about:blank")
    assert not errors, f"the page logged errors: {errors}"    # an uncaught exception in the console's code
