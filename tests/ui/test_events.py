"""Events and usage through the console: a Machine's log, the user's and provider's logs, usage per user."""
import time
import urllib.error
import urllib.parse

import pytest

from tests.ui.conftest import api, first_id
from tests.ui.test_security import HOSTILE

pytestmark = pytest.mark.ui
PAST = ("2026-01-01", "2026-01-31")            # a period before any of these tests' machines


def started_machine(server, name):
    """A Machine alice made through the API, once STARTED (its Job ran on the test driver)."""
    _, headers, _ = api(server, "alice", "alice-pw", "POST", "/cimi/machines", {
        "name": name, "machineTemplate": {"machineConfig": {"href": first_id(server, "machineConfigs")},
                                          "machineImage": {"href": first_id(server, "machineImages")}}})
    for _ in range(100):
        _, _, machine = api(server, "alice", "alice-pw", "GET", headers["Location"])
        if machine["state"] == "STARTED":
            return machine
        time.sleep(0.1)
    raise AssertionError(f"{name} never started")


def cells(console):
    """The rows of the table shown, as lists of cell texts."""
    return [[td.text for td in tr.find_elements("css selector", "td")] for tr in console.all("main tbody tr")]


def set_period(console, start, end):
    for label, value in (("From (UTC)", start), ("To (UTC, included)", end)):
        console.driver.execute_script("arguments[0].value = arguments[1]", console.by_label(label), value)
    console.button("Show usage").click()


def usage_row(console, user):
    """The Usage table's cells for `user`, once its figures have arrived."""
    return console.until(lambda d: next((r for r in cells(console) if r[0] == user and "…" not in r), False),
                         message=lambda: f"no usage for {user}: {cells(console)}")


def test_a_machines_state_events_and_the_usage_they_make(console, server):
    started_machine(server, "ev-web")
    started = time.time()
    console.sign_in("alice", "alice-pw")
    console.go("machines")
    console.link("ev-web").click()
    time.sleep(max(0.0, started + 2.5 - time.time()))      # STARTED for whole seconds: Events have whole seconds
    console.button("stop ev-web").click()
    assert "succeeded" in console.job_done("stop ev-web")

    console.link("Events").click()
    console.wait.until(lambda d: console.find("main h2").text == "Events")
    assert console.by_label("Event log").find_element("css selector", "option:checked").text == "ev-web (machines)"
    console.until(lambda d: len(console.all("main tbody tr")) == 4, message=lambda: cells(console))
    rows = cells(console)                                                 # newest first
    assert [r[2] for r in rows] == ["STOPPING → STOPPED", "STARTED → STOPPING", "CREATING → STARTED", "CREATING"]
    assert {r[1] for r in rows} == {"state"} and {r[3] for r in rows} == {"Machine ev-web"}
    assert {r[4] for r in rows} == {"alice"} and {r[5] for r in rows} == {"Status"}
    console.until_text("In this log: 4 low, 0 medium, 0 high, 0 critical")      # the log's summary, from the server
    console.shot("events")
    console.by_label("Filter ($filter)").send_keys("content/state='STOPPED'")    # the server filters
    console.button("Apply").click()
    console.wait.until(lambda d: "1–1 of 1" in console.text(".list-status"))
    assert cells(console)[0][2] == "STOPPING → STOPPED"

    console.go("usage")
    alice = usage_row(console, "alice")
    _, _, logs = api(server, "alice", "alice-pw", "GET", "/cimi/eventLogs?$filter=name='user:alice'")
    _, _, served = api(server, "alice", "alice-pw", "GET", logs["eventLogs"][0]["id"] + "/usage")
    assert float(alice[1]) > 0 and alice[1] == served["usage"]["cpuHours"]          # stopped: it grows no more
    assert float(alice[2]) > 0 and alice[2] == served["usage"]["memoryGiBHours"]
    console.until_text(f"to {served['to'][:10]}")
    console.shot("usage")
    filt = console.by_label("Filter ($filter)")                  # any log's usage: the machine's own
    filt.clear()
    filt.send_keys("scope='resource' and name='ev-web'")
    console.button("Apply").click()
    assert usage_row(console, "ev-web")[1] == alice[1]
    filt.clear()
    filt.send_keys("scope='user'")
    set_period(console, *PAST)
    console.until_text(f"From {PAST[0]}T00:00:00Z to 2026-02-01T00:00:00Z")
    assert usage_row(console, "alice")[1:] == ["0", "0", "0", "0"]
    set_period(console, PAST[1], PAST[0])                                  # bad input: the server's message
    console.until_text("from is after to")


def test_bob_sees_neither_alices_log_nor_her_usage(console, server):
    machine = started_machine(server, "ev-secret")
    log = machine["eventLog"]["href"]
    with pytest.raises(urllib.error.HTTPError) as refused:
        api(server, "bob", "bob-pw", "GET", log)
    assert refused.value.code == 404
    console.sign_in("bob", "bob-pw")
    console.go("events/" + urllib.parse.quote(urllib.parse.urlsplit(log).path, safe=""))   # alice's Machine's log
    console.until_text("No such event log, or not yours to read.")
    assert "ev-secret" not in console.text() and not console.all("main tbody tr td.state")
    options = [o.text for o in console.all("option", console.by_label("Event log"))]
    assert not any("alice" in o for o in options), options
    console.go("usage")
    console.until(lambda d: console.text(".list-status"), message="the usage list never loaded")
    assert "alice" not in [r[0] for r in cells(console)]


def test_an_admin_reads_the_provider_log_a_users_log_and_everyones_usage(console, server):
    started_machine(server, HOSTILE)
    api(server, "bob", "bob-pw", "POST", "/cimi/volumes", {
        "name": "bob-data", "volumeTemplate": {"volumeConfig": {"capacity": 1024 * 1024}}})
    console.sign_in("admin", "admin-pw")
    console.go("events")
    console.choose("Event log", "provider (sign-ins, admin actions, the provider's resources)")
    console.until(lambda d: any(r[1] == "access: add user" and r[6] == "bob in groups: none" for r in cells(console)),
                  message=lambda: cells(console))
    console.shot("events-provider")
    console.choose("Event log", "alice (user)")
    console.until(lambda d: any(r[3] == f"Machine {HOSTILE}" for r in cells(console)), message=lambda: cells(console))
    assert not console.all("main img")                                    # the name stayed text
    assert "#/events/" in console.driver.current_url

    console.go("usage")
    assert float(usage_row(console, "alice")[1]) > 0 and float(usage_row(console, "alice")[2]) > 0
    bob = usage_row(console, "bob")
    assert bob[1] == "0" and float(bob[3]) > 0                             # a volume, no machine


def test_events_and_usage_are_readable_on_a_phone(console, server):
    started_machine(server, "ev-phone")
    console.sign_in("admin", "admin-pw")
    console.driver.set_window_size(390, 844)
    try:
        for view in ("events", "usage"):
            console.go(view)
            console.until(lambda d: [r for r in cells(console) if r and "…" not in r],
                          message=lambda: f"{view}: {cells(console)}")
            overflow = console.driver.execute_script("""
                return [document.documentElement, ...document.querySelectorAll('.table-wrap')]
                  .map(el => el.scrollWidth - el.clientWidth);""")
            assert max(overflow) <= 0, f"{view} scrolls sideways on a phone: {overflow}"
    finally:
        console.driver.set_window_size(1280, 900)
