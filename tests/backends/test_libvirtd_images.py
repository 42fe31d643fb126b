"""Image registration, volume snapshots and leases against a real libvirtd with QEMU."""
import hashlib
import os
import subprocess

import libvirt
import pytest
from falcon import testing

from backends import Conflict, model
from backends.libvirt import xml
from cimi import naming
from tests.api.test_ovf_import import user_import_dir

pytestmark = pytest.mark.libvirtd
MiB = 1 << 20
CIMI = "http://schemas.dmtf.org/cimi/1"


def same_content(path_a, fmt_a, path_b, fmt_b):
    return subprocess.run(["qemu-img", "compare", "-q", "-f", fmt_a, "-F", fmt_b, path_a, path_b],
                          capture_output=True).returncode == 0


def test_snapshot_is_a_standalone_copy_of_the_volume(real, tmp_path):
    b, observer, made = real
    source = tmp_path / "content.raw"
    source.write_bytes(os.urandom(2 * MiB))
    image = b.create_image("snap-src-image", 0, str(source), "raw")
    made.append(("image", image.key))
    vol = b.create_volume(model.VolumeSpec("snap-vol", 2 * MiB, image_key=image.key))
    made.append(("volume", vol.key))
    snap = b.snapshot_volume(vol.key, "snap-copy")
    made.append(("image", snap.key))
    assert snap.key != vol.key
    assert b.snapshot_volume(vol.key, "snap-copy") == snap             # a replayed Job
    conf = xml.StorageVolume.parse(observer.storageVolLookupByKey(snap.key).XMLDesc(0))
    assert conf.backing_path is None
    assert same_content(str(source), "raw", observer.storageVolLookupByKey(snap.key).path(), snap.format)


def test_snapshot_of_a_volume_in_a_running_machine_is_refused(real):
    b, observer, made = real
    m = b.create_machine(model.MachineSpec("snap-busy", 1, 65536, disks=[model.DiskSpec(MiB)]))
    made.append(("machine", m.key))
    vol = b.create_volume(model.VolumeSpec("snap-busy-data", MiB))
    made.insert(0, ("volume", vol.key))
    b.attach_volume(m.key, vol.key)
    b.start_machine(m.key)
    pool = observer.storagePoolLookupByName(b.image_pool)
    before = {v.name() for v in pool.listAllVolumes(0)}
    with pytest.raises(Conflict, match="running"):
        b.snapshot_volume(vol.key, "snap-busy-copy")
    assert {v.name() for v in pool.listAllVolumes(0)} == before
    b.stop_machine(m.key, force=True)
    b.detach_volume(m.key, vol.key)


def test_a_started_network_reports_its_leases_as_a_list(real):
    b, _observer, made = real
    net = b.create_network(model.NetworkSpec("dsc-leases", "isolated", "192.168.231.0/24"))
    made.append(("network", net.key))
    assert b.network_leases(net.key) == []                     # dnsmasq runs; no guest asked yet
    b.start_network(net.key)
    assert b.network_leases(net.key) == []


@pytest.fixture
def api(libvirtd, libvirtd_pool, tmp_path, monkeypatch):
    """A Cloud on the real libvirtd and an admin client."""
    from cimi import auth
    from cimi.http.app import create_app
    from cimi.cloud import Cloud, Config
    from tests.conftest import Client
    pool, _qcow2 = libvirtd_pool
    monkeypatch.setenv("CIMI_ADMIN_PASSWORD", "admin-pw")
    cloud = Cloud(Config(data_dir=str(tmp_path / "var"), workers=2, reconcile_every=0,
                         libvirt_uris=[libvirtd], image_pool=pool, volume_pool=pool, default_network=""))
    auth.add_user("alice", "alice-pw")
    client = Client(testing.TestClient(create_app(cloud)), "alice", "alice-pw")
    observer = libvirt.open(libvirtd)
    yield cloud, client, observer
    for href in [i["id"] for i in client.get("/cimi/machineImages").json.get("machineImages", [])
                 if i.get("owner") != "provider"]:
        resp = client.delete(href)
        if resp.status_code == 202:
            client.wait(resp.headers["CIMI-Job-URI"])
    cloud.close()
    observer.close()


def _key(image):
    from cimi import store
    return store.get("MachineImage", image["id"].rsplit("/", 1)[-1])["data"]["_key"]


def test_registered_vmdk_arrives_as_qcow2_with_the_same_content(api, tmp_path):
    cloud, client, observer = api
    raw = tmp_path / "src.raw"
    raw.write_bytes(os.urandom(3 * MiB))
    vmdk = str(user_import_dir(cloud) / "disk.vmdk")        # alice imports from her own directory
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized",
                    str(raw), vmdk], check=True)
    with open(vmdk, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    _, image = client.create("machineImages", {"name": "v", "imageLocation": "file://" + vmdk,
                                               "properties": {"sha256": digest, "format": "vmdk"}})
    vol = observer.storageVolLookupByKey(_key(image))
    assert xml.StorageVolume.parse(vol.XMLDesc(0)).target_format == "qcow2"
    assert same_content(str(raw), "raw", vol.path(), "qcow2")


def test_uploaded_qcow2_boots_a_machine_through_the_api(api, tmp_path):
    cloud, client, observer = api
    disk = tmp_path / "up.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True)
    data = disk.read_bytes()
    resp = client.request("POST", "/cimi/machineImages", data, headers={"Content-Type": "application/octet-stream"},
                          params={"name": "uploaded", "sha256": hashlib.sha256(data).hexdigest()})
    assert resp.status_code == 202, resp.text
    assert client.wait(resp.headers["CIMI-Job-URI"])["state"] == "SUCCESS"
    image = client.get(resp.headers["Location"]).json
    vol = observer.storageVolLookupByKey(_key(image))
    assert vol.info()[1] == 16 * MiB
    assert same_content(str(disk), "qcow2", vol.path(), "qcow2")
    config = client.get("/cimi/machineConfigs").json["machineConfigurations"][0]["id"]
    _, machine = client.create("machines", {"name": "from-upload", "machineTemplate": {
        "machineConfig": {"href": config}, "machineImage": {"href": image["id"]}}})
    assert machine["state"] == "STARTED"
    dom = observer.lookupByName(naming.machine_name(machine["id"].rsplit("/", 1)[-1]))
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    resp = client.delete(machine["id"])
    assert client.wait(resp.headers["CIMI-Job-URI"])["state"] == "SUCCESS"


def test_volume_snapshot_through_the_api(api):
    cloud, client, observer = api
    _, volume = client.create("volumes", {"volumeTemplate": {"volumeConfig": {"capacity": 1024}}})
    _, image = client.create("volumeImages", {"imageLocation": volume["id"]})
    assert client.get(volume["id"]).json["state"] == "AVAILABLE"
    from cimi import store
    key = store.get("VolumeImage", image["id"].rsplit("/", 1)[-1])["data"]["_key"]
    assert observer.storageVolLookupByKey(key).info()[1] == 1024 * 1024
    for href in (image["id"], volume["id"]):
        resp = client.delete(href)
        assert client.wait(resp.headers["CIMI-Job-URI"])["state"] == "SUCCESS"
    with pytest.raises(libvirt.libvirtError):
        observer.storageVolLookupByKey(key)
