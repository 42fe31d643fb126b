"""Machines in ERROR: why (statusMessage), nothing left behind, and only what can work offered."""
import base64
import shutil
import subprocess
import time

import libvirt
import pytest
from falcon import testing
from lxml import etree

from backends.libvirt import LibvirtBackend
from cimi import auth, naming, store
from cimi.http.app import create_app
from cimi.cloud import Cloud, Config
from cimi.ops.reconcile import reconcile
from tests.api.test_xml_schema import check, network_body, xsd  # noqa: F401 (xsd: a fixture)
from tests.conftest import Client, machine_body

CIMI = "http://schemas.dmtf.org/cimi/1"
MiB = 1 << 20


def ops(resource):
    """The actions and delete a resource offers (edit and extension operations aside)."""
    return sorted(o["rel"].rsplit("/", 1)[-1] for o in resource["operations"]
                  if "/action/" in o["rel"] or o["rel"] == "delete")


def machine_id(machine):
    return machine["id"].rsplit("/", 1)[-1]


def leftovers(conn, pool_name, machine):
    """The domain and volumes named after a Machine that its host still has."""
    name = naming.machine_name(machine_id(machine))
    found = [d.name() for d in conn.listAllDomains(0) if d.name() == name]
    pool = conn.storagePoolLookupByName(pool_name)
    pool.refresh(0)
    return found + [v.name() for v in pool.listAllVolumes(0) if v.name().startswith(name)]


def test_a_failed_create_is_error_with_its_reason_and_leaves_nothing(cloud, alice, libvirt_conn):
    """The test driver: the Machine's network vanished from libvirt before its Job ran."""
    _, network = alice.create("networks", network_body("vanishing"))
    net = libvirt_conn.networkLookupByName(store.get("Network", machine_id(network))["data"]["_key"])
    if net.isActive():
        net.destroy()
    net.undefine()
    resp = alice.post(alice.cep()["machines"]["href"],
                      machine_body(alice, "doomed", networkInterfaces=[{"network": {"href": network["id"]}}]))
    assert resp.status_code == 202, resp.text
    job = alice.wait(resp.headers["CIMI-Job-URI"])
    assert job["state"] == "FAILED"
    assert job["statusMessage"].startswith("could not create the machine: ") and "network" in job["statusMessage"]
    machine = alice.get(resp.headers["Location"]).json
    assert machine["state"] == "ERROR" and machine["statusMessage"] == job["statusMessage"]
    assert ops(machine) == ["delete"]                       # nothing else can work: no domain
    assert leftovers(libvirt_conn, "default-pool", machine) == []
    assert alice.get(machine["disks"]["href"]).json["count"] == 0
    refused = alice.post(machine["id"] + "/start", {"action": f"{CIMI}/action/start"})
    assert refused.status_code == 409
    deleted = alice.delete(machine["id"])
    assert alice.wait(deleted.headers["CIMI-Job-URI"])["state"] == "SUCCESS"


def test_a_machine_whose_domain_is_gone_offers_only_delete(cloud, alice, libvirt_conn):
    _, machine = alice.create("machines", machine_body(alice))
    dom = libvirt_conn.lookupByName(naming.machine_name(machine_id(machine)))
    dom.destroy()
    dom.undefine()
    assert reconcile(cloud)[0] == 1
    machine = alice.get(machine["id"]).json
    assert machine["state"] == "ERROR" and "gone" in machine["statusMessage"]
    assert ops(machine) == ["delete"]
    assert reconcile(cloud)[0] == 0                         # and it stays so


def test_error_reason_validates_in_the_xml_form(cloud, alice, libvirt_conn, xsd):
    _, machine = alice.create("machines", machine_body(alice))
    dom = libvirt_conn.lookupByName(naming.machine_name(machine_id(machine)))
    dom.destroy()
    dom.undefine()
    assert reconcile(cloud)[0] == 1
    doc = check(xsd, alice.get(machine["id"], accept="application/xml"), "Machine")
    (reason,) = [e.text for e in doc.iter() if etree.QName(e).localname == "statusMessage"]
    assert "gone" in reason


# --- on a real libvirtd with QEMU --------------------------------------------------------------

@pytest.fixture
def real_cloud(libvirtd, libvirtd_pool, tmp_path, monkeypatch):
    """make(domain_type, **config) -> (Cloud on qemu:///system, alice's client); an observer; the pool."""
    pool, _qcow2 = libvirtd_pool
    monkeypatch.setenv("CIMI_ADMIN_PASSWORD", "admin-pw")
    clouds = []

    def make(domain_type=None, **config):
        backend = LibvirtBackend(libvirtd, image_pool=pool, volume_pool=pool, domain_type=domain_type)
        cloud = Cloud(Config(data_dir=str(tmp_path / "var"), workers=2, libvirt_uris=[libvirtd],
                             reconcile_every=0, **config), backend=backend)
        clouds.append(cloud)
        auth.add_user("alice", "alice-pw")
        return cloud, Client(testing.TestClient(create_app(cloud)), "alice", "alice-pw")
    observer = libvirt.open(libvirtd)
    yield make, observer, pool
    for cloud in clouds:
        for dom in observer.listAllDomains(0):             # whatever a failing test left
            if naming.machine_id(dom.name()):
                cloud.backend.delete_machine(dom.UUIDString())
        cloud.close()
        cloud.backend.close()
    observer.close()


def wait_for(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.mark.libvirtd
def test_a_start_that_fails_after_define_is_error_and_undefined(real_cloud):
    """QEMU cannot allocate 4 TiB of guest memory: the create fails at start."""
    make, observer, pool = real_cloud
    _cloud, alice = make()
    body = machine_body(alice, "huge", userData=base64.b64encode(b"#cloud-config\n").decode())   # a config drive
    body["machineTemplate"]["machineConfig"] = {"cpu": 1, "memory": 4 * 1024 ** 3,      # KiB: 4 TiB
                                                "disks": [{"capacity": 1024 * 1024, "format": "qcow2"}]}
    resp = alice.post(alice.cep()["machines"]["href"], body)
    assert resp.status_code == 202, resp.text
    job = alice.wait(resp.headers["CIMI-Job-URI"], timeout=120)
    assert job["state"] == "FAILED"
    message = job["statusMessage"]
    assert message.startswith("could not create the machine: ") and "Cannot allocate memory" in message
    assert "internal error" not in message and "unexpectedly closed the monitor" not in message
    machine = alice.get(resp.headers["Location"]).json
    assert (machine["state"], machine["statusMessage"]) == ("ERROR", message)
    assert ops(machine) == ["delete"]
    assert leftovers(observer, pool, machine) == []          # no domain, no disk, no config drive
    deleted = alice.delete(machine["id"])
    assert alice.wait(deleted.headers["CIMI-Job-URI"])["state"] == "SUCCESS"


def syslinux_disk(path):
    """A FAT disk that syslinux boots (it dies under nested KVM: "emulation failure")."""
    if not all(shutil.which(t, path="/usr/bin:/usr/sbin:/sbin:/bin") for t in ("syslinux", "mkfs.vfat", "mcopy")):
        pytest.skip("SYSLINUX GUEST SKIPPED: needs syslinux, dosfstools and mtools")
    subprocess.run(["truncate", "-s", "32M", str(path)], check=True)
    subprocess.run(["/sbin/mkfs.vfat", "-F", "16", "-n", "BOOT", str(path)], check=True, capture_output=True)
    subprocess.run(["syslinux", "--install", str(path)], check=True)
    cfg = path.parent / "syslinux.cfg"
    cfg.write_text("DEFAULT x\nPROMPT 0\nTIMEOUT 1\nLABEL x\n  KERNEL nothing\n")
    subprocess.run(["mcopy", "-o", "-i", str(path), str(cfg), "::syslinux.cfg"], check=True)
    return path.read_bytes()


@pytest.mark.libvirtd
def test_a_guest_that_dies_on_an_emulation_failure_is_error_and_can_be_restarted(real_cloud, tmp_path):
    make, observer, pool = real_cloud
    if not observer.getCapabilities().count("type='kvm'"):
        pytest.skip("NO KVM: the emulation failure needs a (nested) KVM")
    cloud, alice = make("kvm")
    resp = alice.request("POST", alice.cep()["machineImages"]["href"], syslinux_disk(tmp_path / "boot.raw"),
                         headers={"Content-Type": "application/octet-stream"}, params={"name": "syslinux"})
    assert resp.status_code == 202, resp.text
    assert alice.wait(resp.headers["CIMI-Job-URI"], timeout=120)["state"] == "SUCCESS"
    body = machine_body(alice, "dies")
    body["machineTemplate"]["machineImage"] = {"href": resp.headers["Location"]}
    body["machineTemplate"]["machineConfig"] = {"cpu": 1, "memory": 128 * 1024}
    _, machine = alice.create("machines", body)
    dom = observer.lookupByName(naming.machine_name(machine_id(machine)))
    if not wait_for(lambda: dom.state(0)[0] == libvirt.VIR_DOMAIN_PAUSED, 20):
        pytest.skip("this host's KVM boots syslinux: no emulation failure to observe")
    assert dom.state(0) == [libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_PAUSED_UNKNOWN]
    assert reconcile(cloud)[0] == 1
    machine = alice.get(machine["id"]).json
    assert machine["state"] == "ERROR" and "internal error" in machine["statusMessage"], machine
    assert ops(machine) == ["delete", "restart", "start", "stop"]     # its domain still runs
    machine = alice.act(machine, "stop")                                # powers it off
    assert machine["state"] == "STOPPED" and "statusMessage" not in machine
    assert not dom.isActive()
    machine = alice.act(machine, "start")
    assert machine["state"] == "STARTED"
    assert wait_for(lambda: dom.state(0)[0] == libvirt.VIR_DOMAIN_PAUSED, 20)
    reconcile(cloud)
    machine = alice.get(machine["id"]).json
    assert machine["state"] == "ERROR"
    machine = alice.act(machine, "start")                               # boots it afresh
    assert dom.isActive() and machine["state"] in ("STARTED", "ERROR")


def test_a_create_its_server_died_in_is_error_and_leaves_nothing(cloud, alice, libvirt_conn):
    """The store as a server killed mid-create leaves it: Machine CREATING, its Job RUNNING, lease over."""
    import datetime

    from cimi.store import db
    resp = alice.post(alice.cep()["machines"]["href"], machine_body(alice, "cut-short"))
    job = alice.wait(resp.headers["CIMI-Job-URI"])
    assert job["state"] == "SUCCESS"
    row_id = resp.headers["Location"].rsplit("/", 1)[-1]
    store.update("Machine", row_id, {"state": "CREATING"})
    jobs = db.model_for("Job")
    (jobs.update(state="RUNNING", lease_until=db.utcnow() - datetime.timedelta(seconds=1))
     .where(jobs.id == job["id"].rsplit("/", 1)[-1]).execute())
    assert cloud.jobs.recover() == 1
    machine = alice.get(resp.headers["Location"]).json
    assert machine["state"] == "ERROR" and "interrupted" in machine["statusMessage"]
    assert ops(machine) == ["delete"]
    assert leftovers(libvirt_conn, "default-pool", machine) == []
    assert alice.get(machine["disks"]["href"]).json["count"] == 0


@pytest.mark.parametrize("recorded", [False, True])
def test_a_volume_create_its_server_died_in_leaves_nothing_or_stays_available(cloud, alice, libvirt_conn, recorded):
    """Killed after the backend made the volume: before the store recorded it (ERROR, no bytes left
    behind that no DELETE could reach), or after (the Volume is fine and stays AVAILABLE)."""
    import datetime

    from cimi.store import db
    resp = alice.post(alice.cep()["volumes"]["href"], {"name": "cut-short",
                                                      "volumeTemplate": {"volumeConfig": {"capacity": 1024}}})
    assert alice.wait(resp.headers["CIMI-Job-URI"])["state"] == "SUCCESS"
    row = store.get("Volume", resp.headers["Location"].rsplit("/", 1)[-1])
    if not recorded:
        store.update("Volume", row["id"], {"state": "CREATING",
                                           "data": {k: v for k, v in row["data"].items() if k != "_key"}})
    jobs = db.model_for("Job")
    (jobs.update(state="RUNNING", lease_until=db.utcnow() - datetime.timedelta(seconds=1))
     .where(jobs.id == resp.headers["CIMI-Job-URI"].rsplit("/", 1)[-1]).execute())
    assert cloud.jobs.recover() == 1
    assert alice.get(resp.headers["Location"]).json["state"] == ("AVAILABLE" if recorded else "ERROR")
    pool = libvirt_conn.storagePoolLookupByName("default-pool")
    assert len([v for v in pool.listAllVolumes(0) if row["id"] in v.name()]) == recorded
