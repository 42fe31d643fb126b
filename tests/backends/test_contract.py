"""One lifecycle, run against every available backend (base.Backend contract).

Each step is checked against libvirt itself through a separate observer
connection, not only against what the backend returns. The test driver runs
on the shared `test:///default` (the only test-driver URI whose state a
second connection can see) with unique names; the real one on qemu:///system.
"""
import contextlib
import time
import uuid

import libvirt
import pytest
from lxml import etree

from backends import BackendError, Conflict, NotFound, model
from backends.libvirt import LibvirtBackend

MiB = 1 << 20


class Target:
    """A backend, an observer connection on the same hypervisor, and its pool."""

    def __init__(self, kind, backend, uri, pool, upload_from=None):
        self.kind, self.backend, self.pool_name = kind, backend, pool
        self.observer = libvirt.open(uri)
        self.upload_from = upload_from    # a qcow2 file, where upload works
        self.made = []                    # (delete method, key): undone if a test fails

    def track(self, kind, info):
        """Register a created object for cleanup; return it."""
        self.made.append((f"delete_{kind}", info.key))
        return info

    def clean_up(self):
        for delete, key in reversed(self.made):
            with contextlib.suppress(BackendError):
                getattr(self.backend, delete)(key)

    def pool(self):
        return self.observer.storagePoolLookupByName(self.pool_name)

    def volume_paths(self):
        pool = self.pool()
        if self.kind == "libvirtd":
            pool.refresh(0)          # also see files libvirt did not create
        return {v.path() for v in pool.listAllVolumes(0)}

    def domain_state(self, key):
        dom = self.observer.lookupByUUIDString(key)
        return dom.state()[0], dom.hasManagedSaveImage(0)

    def backing_of(self, path):
        vol = self.observer.storageVolLookupByPath(path)
        return etree.fromstring(vol.XMLDesc(0)).findtext("backingStore/path")


@pytest.fixture(params=["test", pytest.param("libvirtd", marks=pytest.mark.libvirtd)])
def target(request):
    if request.param == "test":
        uri = "test:///default"
        t = Target("test", LibvirtBackend(uri), uri, "default-pool")
    else:
        uri = request.getfixturevalue("libvirtd")
        pool, qcow2 = request.getfixturevalue("libvirtd_pool")
        backend = LibvirtBackend(uri, image_pool=pool, volume_pool=pool)
        t = Target("libvirtd", backend, uri, pool, upload_from=qcow2)
    yield t
    t.clean_up()
    t.backend.close()
    t.observer.close()


def _name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _image(target):
    if target.upload_from:
        image = target.backend.create_image(_name("img"), 0, target.upload_from, "qcow2")
    else:
        image = target.backend.create_image(_name("img"), 64 * MiB)
    return target.track("image", image)


def test_machine_lifecycle(target, capsys):
    b = target.backend
    before = target.volume_paths()
    image = _image(target)
    assert image.key in target.volume_paths() and image.capacity_bytes == 64 * MiB

    spec = model.MachineSpec(name=_name("m"), cpu=1, memory_kib=128 * 1024, disks=[
        model.DiskSpec(64 * MiB, image.key), model.DiskSpec(16 * MiB)])
    m = target.track("machine", b.create_machine(spec))
    assert m.state == model.STOPPED
    assert target.domain_state(m.key) == (libvirt.VIR_DOMAIN_SHUTOFF, 0)
    root, extra = m.disks
    assert (root.target, extra.target) == ("vda", "vdb")
    assert target.backing_of(root.key) == target.observer.storageVolLookupByKey(image.key).path()
    assert target.backing_of(extra.key) is None
    assert b.create_machine(spec).key == m.key, "create must be idempotent on the name"

    began = time.monotonic()
    assert b.start_machine(m.key).state == model.STARTED
    with capsys.disabled():
        print(f"\n[{target.kind}] start took {time.monotonic() - began:.2f} s")
    assert target.domain_state(m.key)[0] == libvirt.VIR_DOMAIN_RUNNING
    assert b.pause_machine(m.key).state == model.PAUSED
    assert target.domain_state(m.key)[0] == libvirt.VIR_DOMAIN_PAUSED
    assert b.start_machine(m.key).state == model.STARTED
    assert target.domain_state(m.key)[0] == libvirt.VIR_DOMAIN_RUNNING
    assert b.suspend_machine(m.key).state == model.SUSPENDED
    assert target.domain_state(m.key) == (libvirt.VIR_DOMAIN_SHUTOFF, 1)
    assert b.start_machine(m.key).state == model.STARTED
    assert target.domain_state(m.key) == (libvirt.VIR_DOMAIN_RUNNING, 0)
    # Nothing boots in the guest, so a graceful stop falls back to power-off.
    assert b.stop_machine(m.key, timeout=1.0).state == model.STOPPED
    assert target.domain_state(m.key) == (libvirt.VIR_DOMAIN_SHUTOFF, 0)

    captured = target.track("image", b.capture_machine(m.key, _name("cap")))
    assert captured.key in target.volume_paths()
    assert target.backing_of(captured.key) is None, "a captured image must be standalone"
    with pytest.raises(Conflict):
        b.delete_image(image.key)       # still the backing store of the root disk

    b.delete_machine(m.key)
    with pytest.raises(libvirt.libvirtError):
        target.observer.lookupByUUIDString(m.key)
    assert target.volume_paths() == before | {image.key, captured.key}
    b.delete_machine(m.key)             # deleting what is gone succeeds
    with pytest.raises(NotFound):
        b.machine(m.key)
    b.delete_image(captured.key)
    b.delete_image(image.key)
    assert target.volume_paths() == before


def test_volume_lifecycle(target):
    b = target.backend
    before = target.volume_paths()
    m = target.track("machine", b.create_machine(model.MachineSpec(
        name=_name("m"), cpu=1, memory_kib=65536, disks=[model.DiskSpec(8 * MiB)])))
    v = b.create_volume(model.VolumeSpec(name=_name("vol"), capacity_bytes=8 * MiB))
    target.made.insert(0, ("delete_volume", v.key))     # after the machine
    assert v.key in target.volume_paths() and v.capacity_bytes == 8 * MiB
    assert b.attach_volume(m.key, v.key) == "vdb"
    sources = _disk_sources(target, m.key)
    assert sources[v.key] == "vdb"
    assert b.attach_volume(m.key, v.key) == "vdb", "a replayed attach must not add a disk"
    with pytest.raises(Conflict):
        b.delete_volume(v.key)
    b.detach_volume(m.key, v.key)
    assert v.key not in _disk_sources(target, m.key)
    b.detach_volume(m.key, v.key)
    b.delete_volume(v.key)
    b.delete_volume(v.key)
    b.delete_machine(m.key)
    assert target.volume_paths() == before


def _disk_sources(target, key):
    xml = target.observer.lookupByUUIDString(key).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    return {d.get("file"): d.getparent().find("target").get("dev")
            for d in etree.fromstring(xml).iterfind("devices/disk/source")}


@pytest.mark.parametrize("mode,cidr", [("isolated", None), ("nat", "10.231.7.0/24")])
def test_network_lifecycle(target, mode, cidr):
    b = target.backend
    name = _name("net")
    n = target.track("network", b.create_network(model.NetworkSpec(name=name, mode=mode, cidr=cidr)))
    assert (n.key, n.state, n.mode, n.cidr) == (name, model.STOPPED, mode, cidr)
    assert not target.observer.networkLookupByName(name).isActive()
    assert b.create_network(model.NetworkSpec(name=name, mode=mode, cidr=cidr)).key == name
    assert b.start_network(name).state == model.STARTED
    assert target.observer.networkLookupByName(name).isActive()
    assert b.network(name).state == model.STARTED
    assert b.stop_network(name).state == model.STOPPED
    assert not target.observer.networkLookupByName(name).isActive()
    b.delete_network(name)
    with pytest.raises(libvirt.libvirtError):
        target.observer.networkLookupByName(name)
    b.delete_network(name)
    with pytest.raises(NotFound):
        b.network(name)
