"""libvirtd restarting under a running server: reads answer, writes wait, the connection comes back."""
import time

import pytest
from falcon import testing

from cimi.http.app import create_app
from cimi.cloud import Cloud, Config
from tests.conftest import Client, machine_body

pytestmark = pytest.mark.libvirtd


@pytest.fixture
def real_cloud(libvirtd, libvirtd_pool, libvirtd_setup, tmp_path, monkeypatch):
    if not libvirtd_setup.started("libvirtd"):
        pytest.skip("libvirtd was already running: not restarting someone else's daemon")
    pool, _ = libvirtd_pool
    monkeypatch.setenv("CIMI_ADMIN_PASSWORD", "pw")
    cloud = Cloud(Config(data_dir=str(tmp_path), libvirt_uris=[libvirtd], image_pool=pool, volume_pool=pool,
                         reconcile_every=0, default_network=""))
    admin = Client(testing.TestClient(create_app(cloud)), "admin", "pw")
    yield cloud, admin
    for machine in admin.get(admin.cep()["machines"]["href"]).json.get("machines", []):
        admin.wait(admin.delete(machine["id"]).headers["CIMI-Job-URI"])
    cloud.close()


def test_reads_answer_and_writes_wait_while_libvirtd_restarts(real_cloud, libvirtd_setup):
    cloud, admin = real_cloud
    _, machine = admin.create("machines", machine_body(admin, "survivor"))
    assert machine["state"] == "STARTED"
    libvirtd_setup.stop_libvirtd()                         # down, as during a package upgrade
    try:
        assert admin.get(machine["id"]).json["state"] == "STARTED"          # reads come from the store
        assert admin.get(admin.cep()["machines"]["href"]).status_code == 200
        # A create asks no host anything (issue 11: placement is its Job's): accepted, its Job waits.
        later = admin.post(admin.cep()["machines"]["href"], machine_body(admin, "later"))
        assert later.status_code == 202
        stop = admin.post(machine["id"] + "/stop", {"action": "http://schemas.dmtf.org/cimi/1/action/stop",
                                                    "force": True})
        assert stop.status_code == 202                       # accepted: its Job waits for the hypervisor
        time.sleep(2)
        assert admin.get(stop.headers["CIMI-Job-URI"]).json["state"] == "RUNNING"
    finally:
        libvirtd_setup.start_libvirtd()                      # comes back
    job = admin.wait(stop.headers["CIMI-Job-URI"], timeout=60)
    assert job["state"] == "SUCCESS", job.get("statusMessage")
    assert admin.get(machine["id"]).json["state"] == "STOPPED"
    created = admin.wait(later.headers["CIMI-Job-URI"], timeout=60)
    assert created["state"] == "SUCCESS", created.get("statusMessage")
    assert admin.get(later.headers["Location"]).json["state"] == "STARTED"
    _, again = admin.create("machines", machine_body(admin, "after"))     # the connection came back
    assert again["state"] == "STARTED"
