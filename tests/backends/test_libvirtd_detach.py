"""Detach through the API on a real libvirtd: a guest that keeps the disk fails the Job, and nothing lies."""
import pytest

from tests.conftest import machine_body

pytestmark = pytest.mark.libvirtd


def test_a_detach_the_guest_ignores_fails_and_the_volume_stays_attached(tcg_cloud):
    _cloud, alice = tcg_cloud(detach_timeout=2)
    _, machine = alice.create("machines", machine_body(alice))          # no OS: no PCI hot-unplug
    assert machine["state"] == "STARTED"
    _, volume = alice.create("volumes", {"volumeTemplate": {"volumeConfig": {"capacity": 1024}}})
    resp = alice.post(machine["volumes"]["href"], {"volume": {"href": volume["id"]}})
    assert alice.wait(resp.headers["CIMI-Job-URI"], timeout=60)["state"] == "SUCCESS"
    attachment = resp.headers["Location"]
    job = alice.wait(alice.delete(attachment).headers["CIMI-Job-URI"], timeout=60)
    assert job["state"] == "FAILED" and "did not release" in job["statusMessage"]
    assert alice.get(attachment).status_code == 200
    assert alice.get(volume["id"]).json["attachedTo"] == {"href": machine["id"]}
    assert alice.delete(volume["id"]).status_code == 409                # the file stays under the guest
    alice.act(machine, "stop", {"resourceURI": "http://schemas.dmtf.org/cimi/1/Action",
                                "action": "http://schemas.dmtf.org/cimi/1/action/stop", "force": True})
    job = alice.wait(alice.delete(attachment).headers["CIMI-Job-URI"], timeout=60)
    assert job["state"] == "SUCCESS"                                     # a stopped machine lets go
    assert "attachedTo" not in alice.get(volume["id"]).json
