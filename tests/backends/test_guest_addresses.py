"""A booted guest's DHCP lease on a real libvirtd shows on its Machine within seconds, through the API.

Uses the tiny guest image that tests/guest builds into /var/tmp/dsc-guest-cache/
(its initramfs runs udhcpc on eth0); skips, saying so, when there is none.
"""
import glob
import random
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.libvirtd
GUESTS = sorted(glob.glob("/var/tmp/dsc-guest-cache/generic-*.qcow2"))


@pytest.fixture
def guest_cloud(tcg_cloud):
    if not GUESTS:
        pytest.skip("no guest image in /var/tmp/dsc-guest-cache/ (built by tests/guest): cannot boot a guest")
    return tcg_cloud(default_network=f"dsc-default-{uuid.uuid4().hex[:8]}", lease_poll=1,
                     default_network_cidr=f"10.{random.randint(1, 250)}.{random.randint(1, 250)}.0/24")


def addresses_of(client, machine):
    query = {"$filter": f"resource/href='{machine['id']}'"}
    return client.get(client.cep()["addresses"]["href"], params=query).json.get("addresses", [])


def test_the_guests_lease_is_its_machines_address(guest_cloud, capsys):
    cloud, alice = guest_cloud
    resp = alice.request("POST", alice.cep()["machineImages"]["href"], Path(GUESTS[-1]).read_bytes(),
                         headers={"Content-Type": "application/octet-stream"}, params={"name": "guest"})
    assert alice.wait(resp.headers["CIMI-Job-URI"], timeout=120)["state"] == "SUCCESS"
    config = alice.get(alice.cep()["machineConfigs"]["href"]).json["machineConfigurations"][0]["id"]
    began = time.monotonic()
    _, machine = alice.create("machines", {"name": "dhcp", "machineTemplate": {
        "machineConfig": {"href": config}, "machineImage": {"href": resp.headers["Location"]}}})
    (nic,) = alice.get(machine["networkInterfaces"]["href"]).json["machineNetworkInterfaces"]
    assert alice.get(nic["network"]["href"]).json["name"] == cloud.config.default_network
    deadline = time.monotonic() + 120
    while not addresses_of(alice, machine):
        assert time.monotonic() < deadline, "no Address within 120 s of the start"
        time.sleep(0.5)
    with capsys.disabled():
        print(f"\n[guest] Address shown {time.monotonic() - began:.1f} s after the POST")
    (address,) = addresses_of(alice, machine)
    assert address["ip"].startswith(cloud.config.default_network_cidr.rsplit(".", 1)[0] + ".")
    (nic,) = alice.get(machine["networkInterfaces"]["href"]).json["machineNetworkInterfaces"]
    assert nic["addresses"]["machineNetworkInterfaceAddresses"] == [{"address": {"href": address["id"]}}]
    job = alice.wait(alice.delete(machine["id"]).headers["CIMI-Job-URI"], timeout=60)
    assert job["state"] == "SUCCESS"
    assert addresses_of(alice, machine) == []
