"""Quotas in the console: users read theirs with `used / limit`; an administrator sets, edits and deletes them."""
import pytest

from tests.ui.conftest import api, first_id
from tests.ui.test_access import UNLABELLED
from tests.ui.test_sharing import sideways_on_a_phone

pytestmark = pytest.mark.ui
GiB = 1024 * 1024                   # in KiB, the Quota's unit
HOSTILE = "<img src=x onerror=alert(1)> [x] &"       # a Quota's user is at most 128 characters


def quotas(server):
    _, _, doc = api(server, "admin", "admin-pw", "GET", "/cimi/quotas")
    return {q.get("user"): q for q in doc.get("quotas", [])}


def cell(console, user, column):
    """The text of one cell of a user's row, found by its column's label (as a phone shows it)."""
    return console.row(user).find_element("css selector", f"td[data-label='{column}']").text


def press(console, element):
    """Click an element of the Actions column, scrolled clear of the job tray at the bottom right first."""
    console.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def test_an_admin_sets_edits_and_deletes_quotas(console, server):
    api(server, "admin", "admin-pw", "POST", "/cimi/quotas", {"user": HOSTILE, "machines": 1})
    console.sign_in("admin", "admin-pw")
    console.go("quotas")
    console.row(HOSTILE)                                      # a user name is text, never markup
    assert not console.all("main img")

    console.expand("Set a quota")
    console.by_label("Machines").send_keys("5")
    console.by_label("vCPUs").send_keys("8")
    console.button("Set quota").click()
    console.job_done("set quota default")
    console.wait.until(lambda d: cell(console, "(default)", "vCPUs") == "8")
    assert {k: v for k, v in quotas(server)[None].items() if k in ("cpu", "machines", "memory")} == {
        "cpu": 8, "machines": 5}

    console.by_label("User").send_keys("alice")
    console.by_label("vCPUs").send_keys("2")
    console.by_label("Memory (GiB)").send_keys("1.5")
    console.button("Set quota").click()
    console.job_done("set quota alice")
    console.wait.until(lambda d: cell(console, "alice", "Memory") == "0 B / 1.5 GiB")
    assert cell(console, "alice", "vCPUs") == "0 / 2" and cell(console, "alice", "Machines") == "0 / unlimited"
    assert quotas(server)["alice"]["memory"] == 1.5 * GiB

    console.by_label("User").send_keys("alice")              # one per user: the server's 409, in the form
    console.button("Set quota").click()
    console.until_text("there is already a Quota of alice; edit it", "main .create-box .form-message")
    console.expand("Set a quota")                               # closed again

    press(console, console.row("alice").find_element("css selector", "summary"))
    cpu = console.by_label("vCPUs", console.row("alice"))
    assert cpu.get_attribute("value") == "2"                   # the form starts from the quota's limits
    cpu.clear()
    cpu.send_keys("4")
    console.by_label("Memory (GiB)", console.row("alice")).clear()     # empty: unlimited
    console.driver.execute_script("window.scrollTo(0, 0)")
    console.shot("quotas-admin")
    console.driver.execute_script("document.querySelectorAll('main details').forEach(d => { d.open = true; })")
    assert console.driver.execute_script(UNLABELLED) == []    # the admin's forms are labelled too
    press(console, console.button("Save", console.row("alice")))
    console.job_done("edit quota alice")
    console.wait.until(lambda d: cell(console, "alice", "vCPUs") == "0 / 4")
    assert cell(console, "alice", "Memory") == "0 B / unlimited"
    alice = quotas(server)["alice"]
    assert alice["cpu"] == 4 and "memory" not in alice

    press(console, console.button("Delete quota (default)"))
    press(console, console.button("Confirm: delete quota (default)"))
    console.job_done("delete quota (default)")
    console.until_gone("(default)", "main table")
    assert set(quotas(server)) == {"alice", HOSTILE}


def test_a_user_sees_their_quota_and_the_default_with_usage_and_changes_nothing(console, server):
    api(server, "alice", "alice-pw", "POST", "/cimi/machines", {
        "name": "app1", "machineTemplate": {"machineConfig": {"href": first_id(server, "machineConfigs")},
                                            "machineImage": {"href": first_id(server, "machineImages")}}})
    _, _, machine = api(server, "alice", "alice-pw", "GET", "/cimi/machines?$filter=name='app1'")
    cpu, memory = machine["machines"][0]["cpu"], machine["machines"][0]["memory"]
    api(server, "admin", "admin-pw", "POST", "/cimi/quotas", {"machines": 5, "byValue": {"machineConfig": False},
                                                              "quarantineRetention": {"volumes": 3600}})
    api(server, "admin", "admin-pw", "POST", "/cimi/quotas", {"user": "alice", "cpu": 2 * cpu, "memory": 16 * GiB})
    api(server, "admin", "admin-pw", "POST", "/cimi/quotas", {"user": "bob", "cpu": 99})
    console.sign_in("alice", "alice-pw")
    console.go("quotas")
    console.wait.until(lambda d: cell(console, "alice", "vCPUs") == f"{cpu} / {2 * cpu}")
    assert memory == 8 * GiB                                          # the first configuration, "large"
    assert cell(console, "alice", "Memory") == "8.0 GiB / 16 GiB"
    meter = console.row("alice").find_element("css selector", "td[data-label='vCPUs'] meter")
    assert (meter.get_attribute("value"), meter.get_attribute("max")) == (str(cpu), str(2 * cpu))
    assert cell(console, "(default)", "Machines") == "1 / 5"
    assert cell(console, "(default)", "Other") == (
        "machine configurations by reference only; deleted volumes kept 3600 s")
    assert "bob" not in console.text("main table")                  # another user's quota is not served to alice
    assert not console.all("main summary") and not console.all("main td.actions button")   # nothing to change
    console.shot("quotas")

    assert sideways_on_a_phone(console) <= 0, "quotas scroll sideways on a phone"
