"""Volumes attached where the client said: initialLocation reads back as the client wrote it."""
import pytest

from tests.interop.conftest import CIMI, NS
from tests.interop.test_actions import machine


def volume(server):
    body = {"resourceURI": f"{CIMI}/VolumeCreate", "name": "data",
            "volumeTemplate": {"volumeConfig": {"capacity": 1048576}}}
    return server.resource(server.request("POST", "/cimi/volumes", body, headers={"Accept": "application/json"}))


@pytest.mark.parametrize("location", ["/dev/sdf", "/dev/vdc", "vdd"])
def test_an_attached_volume_reports_the_location_given(server, location):
    m, vol = machine(server), volume(server)
    body = (f'<MachineVolume xmlns="{CIMI}"><initialLocation>{location}</initialLocation>'
            f'<volume href="{vol["id"]}"/></MachineVolume>')
    answer = server.request("POST", m["volumes"]["href"], body,
                            headers={"Accept": "application/xml", "Content-Type": "application/xml; charset=UTF-8"})
    assert answer.status in (201, 202)
    server.wait(answer.headers["CIMI-Job-URI"])
    attached = server.get(answer.headers["Location"], accept="application/xml").xml
    assert attached.findtext(NS + "initialLocation") == location
    assert server.get(m["volumes"]["href"]).json["machineVolumes"][0]["initialLocation"] == location


def test_a_volume_attached_at_create_reports_the_location_given(server):
    vol = volume(server)
    m = machine(server, "with-volume", volumes=[{"href": vol["id"], "initialLocation": "/dev/sdf"}])
    listing = server.get(m["volumes"]["href"]).json
    assert listing["count"] == 1 and listing["machineVolumes"][0]["initialLocation"] == "/dev/sdf"
    assert "_device" not in listing["machineVolumes"][0]


def test_without_a_location_the_backend_device_is_shown(server):
    m, vol = machine(server), volume(server)
    answer = server.request("POST", m["volumes"]["href"], {"volume": {"href": vol["id"]}})
    server.wait(answer.headers["CIMI-Job-URI"])
    assert server.get(answer.headers["Location"]).json["initialLocation"] == "vdb"
