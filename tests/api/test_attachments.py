"""Attachments that tell the truth: the Volume says who holds it, and libvirt's word counts."""
import libvirt

from backends.libvirt import xml
from cimi import store
from tests.api.test_resources import finish, volume
from tests.conftest import machine_body


def key_of(href):
    return href.rsplit("/", 1)[-1]


def test_the_volume_names_the_machine_holding_it(alice):
    _, machine = alice.create("machines", machine_body(alice))
    _, vol = volume(alice)
    resp = alice.post(machine["volumes"]["href"], {"volume": {"href": vol["id"]}})
    finish(alice, resp)
    assert alice.get(vol["id"]).json["attachedTo"] == {"href": machine["id"]}
    assert "delete" not in [op["rel"] for op in alice.get(vol["id"]).json["operations"]]   # not offered, and:
    refused = alice.delete(vol["id"])
    assert refused.status_code == 409 and key_of(machine["id"]) in refused.json["message"]
    finish(alice, alice.delete(resp.headers["Location"]))
    assert "attachedTo" not in alice.get(vol["id"]).json
    assert "delete" in [op["rel"] for op in alice.get(vol["id"]).json["operations"]]


def test_a_machine_created_with_a_volume_and_deleted_lets_it_go(alice):
    _, vol = volume(alice)
    _, machine = alice.create("machines", machine_body(alice, volumes=[{"href": vol["id"]}]))
    assert alice.get(vol["id"]).json["attachedTo"] == {"href": machine["id"]}
    finish(alice, alice.delete(machine["id"]))
    assert "attachedTo" not in alice.get(vol["id"]).json


def test_a_volume_a_domain_holds_behind_the_stores_back_cannot_be_deleted(alice, libvirt_conn):
    """The store says free, libvirt says attached: libvirt wins (409), nothing is lost."""
    _, machine = alice.create("machines", machine_body(alice, initialState="STOPPED"))
    _, vol = volume(alice)
    path = store.get("Volume", key_of(vol["id"]))["data"]["_key"]
    domain_name = libvirt_conn.lookupByUUIDString(
        store.get("Machine", key_of(machine["id"]))["data"]["_key"]).name()
    dom = libvirt_conn.lookupByName(domain_name)
    text = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE).replace(
        "</devices>", f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                      f"<source file='{path}'/><target dev='vdy' bus='virtio'/></disk></devices>")
    libvirt_conn.defineXML(text)
    refused = alice.delete(vol["id"])
    assert refused.status_code == 409 and key_of(machine["id"]) in refused.json["message"]
    assert alice.get(vol["id"]).json["state"] == "AVAILABLE"
    assert path in [v.path() for p in libvirt_conn.listAllStoragePools() for v in p.listAllVolumes()]


def test_the_periodic_pass_settles_an_attachment_the_machine_no_longer_has(cloud, alice, libvirt_conn):
    """A crash between storing an attachment and queueing its Job, or a guest letting go late: repaired."""
    import datetime

    from cimi.store import db
    from cimi.ops.reconcile import SETTLE_AFTER, reconcile
    _, machine = alice.create("machines", machine_body(alice, initialState="STOPPED"))
    _, vol = volume(alice)
    resp = alice.post(machine["volumes"]["href"], {"volume": {"href": vol["id"]}})
    finish(alice, resp)
    path = store.get("Volume", key_of(vol["id"]))["data"]["_key"]
    dom = libvirt_conn.lookupByUUIDString(store.get("Machine", key_of(machine["id"]))["data"]["_key"])
    libvirt_conn.defineXML(xml.without_disk(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), path))
    reconcile(cloud)
    assert alice.get(resp.headers["Location"]).status_code == 200          # young: its Job's business
    rows = db.model_for("MachineVolume")
    rows.update(created=db.utcnow() - SETTLE_AFTER - datetime.timedelta(seconds=1)).execute()
    reconcile(cloud)
    assert alice.get(resp.headers["Location"]).status_code == 404
    assert "attachedTo" not in alice.get(vol["id"]).json


def test_a_taken_or_foreign_location_is_refused_and_the_volume_stays_free(alice):
    _, machine = alice.create("machines", machine_body(alice))
    _, vol = volume(alice)
    for location in ("sda1", "/dev/hde", "vd1", "../vdb", "/dev/"):
        resp = alice.post(machine["volumes"]["href"], {"volume": {"href": vol["id"]}, "initialLocation": location})
        assert resp.status_code == 400 and "not a disk name" in resp.json["message"], resp.text
    resp = alice.post(machine["volumes"]["href"], {"volume": {"href": vol["id"]}, "initialLocation": "/dev/vda"})
    assert resp.status_code == 202, resp.text
    job = alice.wait(resp.headers["CIMI-Job-URI"])
    assert job["state"] == "FAILED" and job["returnCode"] == 409, job
    assert job["statusMessage"].startswith("vda is taken on "), job
    assert alice.get(machine["volumes"]["href"]).json["count"] == 0
    assert "attachedTo" not in alice.get(vol["id"]).json
