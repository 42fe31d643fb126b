"""Create forms when the server refuses: its message in the form, the input kept, nothing made.

Found walking through the console on a real host: a refused create (a quota's 403, an overlapping
CIDR's 409) emptied the form and said why only in the job tray, and a refused too-long name
widened a phone's page to tens of thousands of pixels.
"""
import pytest

from tests.ui.conftest import api

pytestmark = pytest.mark.ui


def form_message(console):
    return console.find("main details[open] .form-message").text


def fill(console, view, box, fields):
    """As alice: open `view`'s `box` form and type `fields` ({label: text})."""
    console.sign_in("alice", "alice-pw")
    console.go(view)
    console.expand(box)
    for label, text in fields.items():
        console.by_label(label).send_keys(text)


def test_a_refused_machine_keeps_its_form_and_shows_the_quota(console, server):
    api(server, "admin", "admin-pw", "POST", "/cimi/quotas", {"user": "alice", "machines": 0})
    fill(console, "machines", "Create a machine",
         {"Name": "over-quota", "User data": "#cloud-config\nruncmd: [echo kept]"})
    console.choose("Image", "blank")
    console.button("Create machine").click()

    console.wait.until(lambda d: "quota machines of alice" in form_message(console))
    said = console.find("main details[open] .form-message")
    assert said.value_of_css_property("color") == "rgba(179, 38, 30, 1)", "a refusal reads as an error (--bad)"
    assert console.by_label("Name").get_attribute("value") == "over-quota"
    assert console.by_label("User data").get_attribute("value") == "#cloud-config\nruncmd: [echo kept]"
    assert not console.all("#jobs li")                      # no Job was made: nothing to follow
    assert api(server, "alice", "alice-pw", "GET", "/cimi/machines")[2]["count"] == 0


def test_a_refused_network_says_why_in_the_form(console, server):
    api(server, "alice", "alice-pw", "POST", "/cimi/networks", {
        "name": "first", "networkTemplate": {"networkConfig": {"networkType": "PRIVATE", "cidr": "10.214.40.0/24"}}})
    fill(console, "networks", "Create a network", {"Name": "second", "CIDR": "10.214.40.0/24"})
    console.button("Create a network").click()

    console.wait.until(lambda d: "overlaps" in form_message(console))
    assert console.by_label("CIDR").get_attribute("value") == "10.214.40.0/24"
    _, _, networks = api(server, "alice", "alice-pw", "GET", "/cimi/networks?$filter=name='second'")
    assert networks["count"] == 0


def test_a_form_returns_to_its_defaults_after_a_create(console, server):
    fill(console, "volumes", "Create a volume", {"Name": "one"})
    console.button("Create a volume").click()
    assert "succeeded" in console.job_done("create volume one")
    assert console.by_label("Capacity (GiB)").get_attribute("value") == "1"     # not empty: a second create works
    console.by_label("Name").send_keys("two")
    console.button("Create a volume").click()
    assert "succeeded" in console.job_done("create volume two")


def test_a_long_refusal_wraps_on_a_phone(console, server):
    console.driver.set_window_size(390, 844)
    try:
        fill(console, "volumes", "Create a volume", {})
        console.driver.execute_script("arguments[0].value = 'n'.repeat(5000)", console.by_label("Name"))
        console.button("Create a volume").click()
        console.wait.until(lambda d: "5000 characters, more than 1024" in form_message(console))   # not echoed
        width, client = console.driver.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert width <= client, f"the page scrolls sideways: {width} px wide in {client}"
    finally:
        console.driver.set_window_size(1280, 900)

