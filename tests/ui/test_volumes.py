"""Volumes through the console: create, attach on the machine's page, detach, snapshot."""
import pytest

from tests.ui.conftest import api, first_id

pytestmark = pytest.mark.ui


def test_create_attach_detach_and_snapshot_a_volume(console, server):
    api(server, "alice", "alice-pw", "POST", "/cimi/machines", {
        "name": "app1", "machineTemplate": {"machineConfig": {"href": first_id(server, "machineConfigs")},
                                            "machineImage": {"href": first_id(server, "machineImages")}}})
    console.sign_in("alice", "alice-pw")
    console.go("volumes")
    console.expand("Create a volume")
    console.by_label("Name").send_keys("data")
    size = console.by_label("Capacity (GiB)")
    size.clear()
    size.send_keys("2")
    console.button("Create a volume").click()
    assert "succeeded" in console.job_done("create volume data")
    console.wait.until(lambda d: "AVAILABLE" in console.row("data").text and "2.0 GiB" in console.row("data").text)

    console.button("snapshot data").click()
    assert "succeeded" in console.job_done("snapshot data")
    console.row("data snapshot")

    console.go("machines")
    console.wait.until(lambda d: "STARTED" in console.row("app1").text)
    console.link("app1").click()
    console.choose("Volume to attach", "data")
    console.button("Attach").click()
    assert "succeeded" in console.job_done("attach data to app1")
    console.until_text("data at vd", "main section[aria-label='Volumes']")
    from selenium.webdriver.support.ui import Select
    # attached, it is still AVAILABLE (CIMI has no in-use state), but no longer offered for attaching
    console.wait.until(lambda d: "data" not in [o.text for o in Select(console.by_label("Volume to attach")).options])
    console.go("volumes")                       # the Volumes list says where it is, and leads there
    console.wait.until(lambda d: console.row("data").find_element("css selector", "td[data-label='Attached to']").text
                       == "app1")
    console.row("data").find_element("css selector", "td[data-label='Attached to'] a").click()
    console.until_text("data at vd", "main section[aria-label='Volumes']")
    _, _, machines = api(server, "alice", "alice-pw", "GET", "/cimi/machines?$filter=name='app1'")
    _, _, attached = api(server, "alice", "alice-pw", "GET", machines["machines"][0]["volumes"]["href"])
    assert attached["count"] == 1
    location = attached["machineVolumes"][0]["initialLocation"]
    console.button(f"Detach {location}").click()
    console.button(f"Confirm: detach {location}").click()
    assert "succeeded" in console.job_done(f"detach {location} from app1")
    console.until_gone("data at vd", "main section[aria-label='Volumes']")
    _, _, attached = api(server, "alice", "alice-pw", "GET", machines["machines"][0]["volumes"]["href"])
    assert attached["count"] == 0
