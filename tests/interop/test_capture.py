"""Capture as plugfest clients do it: they look for capture on a running Machine (cimi-reference 3.1)."""
import pytest

from tests.interop.conftest import CIMI, NS
from tests.interop.test_actions import machine, operation


def capture_rel(resource):
    return [o for o in resource["operations"] if o["rel"] == f"{CIMI}/action/capture"]


@pytest.mark.parametrize("pause", [False, True])
def test_a_running_or_paused_machine_offers_capture_and_is_captured(server, pause):
    m = machine(server, "live")
    if pause:
        answer = server.request("POST", operation(m, "pause"), {"resourceURI": f"{CIMI}/Action",
                                                              "action": f"{CIMI}/action/pause"})
        server.wait(answer.headers["CIMI-Job-URI"])
        m = server.get(m["id"]).json
    assert m["state"] == ("PAUSED" if pause else "STARTED")
    [capture] = capture_rel(m)
    body = (f'<MachineImage xmlns="{CIMI}"><name>live-image</name><type>IMAGE</type>'
            f'<imageLocation>{m["id"]}</imageLocation></MachineImage>')
    answer = server.request("POST", capture["href"], body,
                            headers={"Accept": "application/xml", "Content-Type": "application/xml;charset=utf-8"})
    assert answer.status in (201, 202) and answer.xml.tag == NS + "MachineImage"
    assert server.wait(answer.headers["CIMI-Job-URI"])["state"] == "SUCCESS"
    image = server.get(answer.headers["Location"]).json
    assert image["state"] == "AVAILABLE" and image["type"] == "IMAGE"
    assert server.get(m["id"]).json["state"] == m["state"]            # the guest ran on


def test_a_suspended_machine_offers_no_capture(server):
    m = machine(server, "sleepy")
    answer = server.request("POST", operation(m, "suspend"), {"resourceURI": f"{CIMI}/Action",
                                                            "action": f"{CIMI}/action/suspend"})
    server.wait(answer.headers["CIMI-Job-URI"])
    m = server.get(m["id"]).json
    assert m["state"] == "SUSPENDED" and not capture_rel(m)
    refused = server.request("POST", "/cimi/machineImages", {"name": "x", "imageLocation": m["id"]})
    assert refused.status == 409
