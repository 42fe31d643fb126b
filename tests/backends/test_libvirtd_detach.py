"""Detach through the API on a real libvirtd: a guest that keeps the disk fails the Job, and nothing lies."""
import pytest
from falcon import testing

from backends.libvirt import LibvirtBackend
from cimi import auth
from cimi.app import create_app
from cimi.cloud import Cloud, Config
from tests.conftest import Client, machine_body

pytestmark = pytest.mark.libvirtd


@pytest.fixture
def tcg_cloud(libvirtd, libvirtd_pool, tmp_path, monkeypatch):
    pool, _ = libvirtd_pool
    monkeypatch.setenv("CIMI_ADMIN_PASSWORD", "admin-pw")
    backend = LibvirtBackend(libvirtd, image_pool=pool, volume_pool=pool, domain_type="qemu")
    cloud = Cloud(Config(data_dir=str(tmp_path / "var"), workers=2, libvirt_uris=[libvirtd], image_pool=pool,
                         default_network="", reconcile_every=0, detach_timeout=2), backend=backend)
    auth.add_user("alice", "alice-pw")
    alice = Client(testing.TestClient(create_app(cloud)), "alice", "alice-pw")
    try:
        yield cloud, alice
    finally:
        for machine in alice.get(alice.cep()["machines"]["href"]).json.get("machines", []):
            alice.wait(alice.delete(machine["id"]).headers["CIMI-Job-URI"], timeout=60)
        for volume in alice.get(alice.cep()["volumes"]["href"]).json.get("volumes", []):
            alice.wait(alice.delete(volume["id"]).headers["CIMI-Job-URI"], timeout=60)
        cloud.close()
        backend.close()


def test_a_detach_the_guest_ignores_fails_and_the_volume_stays_attached(tcg_cloud):
    _cloud, alice = tcg_cloud
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
