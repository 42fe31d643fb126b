"""The console for everyone: labelled controls, keyboard use, focus, a phone-sized screen."""
import re
from pathlib import Path

import pytest

from tests.ui.conftest import api

pytestmark = pytest.mark.ui
STATIC = Path(__file__).resolve().parents[2] / "cimi" / "ui" / "static"
VIEWS = ["machines", "volumes", "networks", "images", "templates", "systems", "keys", "jobs", "events", "usage",
         "quotas", "users"]

UNLABELLED = """
    return [...document.querySelectorAll('main input, main select, main textarea, main button')]
      .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
      .map(el => el.outerHTML.slice(0, 120));"""


def test_every_control_in_every_view_has_a_name(console):
    console.sign_in("alice", "alice-pw")
    for view in VIEWS:
        console.go(view)
        console.wait.until(lambda d: console.all("main tbody tr"))
        for summary in console.all("main summary"):
            if summary.is_displayed():                          # (forms this user may not use are hidden)
                summary.click()                                 # open the forms too
        assert console.driver.execute_script(UNLABELLED) == [], view


def test_keyboard_only_sign_in_and_navigation(console):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    console.open()
    console.find("form.signin")
    active = console.driver.switch_to.active_element
    assert active.get_attribute("autocomplete") == "username"            # focus starts in the form
    ActionChains(console.driver).send_keys("alice", Keys.TAB, "alice-pw", Keys.ENTER).perform()
    console.until_text("Signed in as alice", "header")
    assert console.driver.switch_to.active_element.text == "Machines"      # focus moved to the view's heading
    networks = [a for a in console.all("nav a") if a.text == "Networks"][0]
    networks.send_keys(Keys.ENTER)
    console.wait.until(lambda d: d.switch_to.active_element.text == "Networks")
    assert networks.get_attribute("aria-current") == "page"


def test_readable_on_a_phone(console, server):
    for name, cidr in (("frontend", "10.215.1.0/24"), ("backend", "10.215.2.0/24")):
        api(server, "alice", "alice-pw", "POST", "/cimi/networks", {
            "name": name, "networkTemplate": {"networkConfig": {"networkType": "PRIVATE", "cidr": cidr}}})
    console.sign_in("alice", "alice-pw")
    console.driver.set_window_size(390, 844)
    try:
        for view in ("keys", "users", "networks"):
            console.go(view)
            console.wait.until(lambda d: console.all("main tbody tr"))
            overflow = console.driver.execute_script("""
                return [document.documentElement, ...document.querySelectorAll('.table-wrap')]
                  .map(el => el.scrollWidth - el.clientWidth);""")
            assert max(overflow) <= 0, f"{view} scrolls sideways on a phone: {overflow}"
        console.row("frontend")
        console.shot("phone-networks", 390, 844)
    finally:
        console.driver.set_window_size(1280, 900)


def test_job_progress_is_announced(console):
    console.open()
    assert console.find("#jobs").get_attribute("aria-live") == "polite"


def test_no_server_string_can_become_markup():
    """The code never parses HTML: text goes in as text nodes (dom.js), so escaping cannot be forgotten."""
    sinks = re.compile(r"innerHTML|outerHTML\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function|"
                       r"createContextualFragment|text/html|image/svg")
    for path in STATIC.glob("*.js"):
        code = path.read_text()
        assert not sinks.search(code), path.name
        # DOMParser only for XML (an OVF descriptor read in the browser): an XML document runs nothing
        assert code.count("DOMParser") == code.count('parseFromString(text, "application/xml")'), path.name
    html = (STATIC / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and " style=" not in html and "<style" not in html
