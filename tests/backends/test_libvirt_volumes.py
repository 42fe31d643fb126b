"""Images and Volumes on a private test-driver node."""
import libvirt
import pytest
from lxml import etree

from backends import BackendError, Conflict, NotFound, model
from backends.libvirt import LibvirtBackend

MiB = 1 << 20


def _volumes(conn, pool="default-pool"):
    return {v.path() for v in conn.storagePoolLookupByName(pool).listAllVolumes(0)}


def test_blank_image_is_qcow2_and_idempotent(backend, conn):
    image = backend.create_image("base", 8 * MiB)
    assert (image.format, image.capacity_bytes) == ("qcow2", 8 * MiB)
    assert backend.create_image("base", 8 * MiB).key == image.key
    assert _volumes(conn) == {image.key}


def test_upload_on_the_test_driver_stands_a_volume_of_the_files_size(backend, conn, tmp_path):
    """The test driver keeps no bytes (no virStorageVolUpload): a volume of the file's size stands for it."""
    source = tmp_path / "disk.raw"
    source.write_bytes(b"\0" * 4096)
    image = backend.create_image("up", 0, str(source), "raw")
    assert image.capacity_bytes >= 4096 and image.format == "raw"
    assert _volumes(conn) == {image.key}


@pytest.mark.parametrize("fmt", [None, "vmdk"])
def test_upload_needs_a_declared_format(backend, conn, tmp_path, fmt):
    source = tmp_path / "disk"
    source.write_bytes(b"x")
    with pytest.raises(BackendError, match="source_format"):
        backend.create_image("up", 0, str(source), fmt)
    assert _volumes(conn) == set()


def test_images_and_volumes_use_their_own_pools(node_uri):
    b = LibvirtBackend(node_uri, image_pool="images", volume_pool="default-pool")
    image = b.create_image("base", MiB)
    m = b.create_machine(model.MachineSpec("m", 1, 65536, disks=[model.DiskSpec(MiB, image.key)]))
    assert image.key.startswith("/images/") and m.disks[0].key.startswith("/default-pool/")


def test_volume_cloned_from_an_image_is_standalone(backend, conn):
    image = backend.create_image("base", 4 * MiB)
    vol = backend.create_volume(model.VolumeSpec("copy", MiB, image_key=image.key))
    assert vol.capacity_bytes == 4 * MiB and vol.key != image.key
    xml = conn.storageVolLookupByKey(vol.key).XMLDesc(0)
    assert etree.fromstring(xml).find("backingStore/path") is None


def test_capture_needs_a_stopped_started_or_paused_machine(backend):
    m = backend.create_machine(model.MachineSpec("m", 1, 65536, disks=[model.DiskSpec(MiB)]))
    backend.start_machine(m.key)
    assert backend.capture_machine(m.key, "live").key                 # crash-consistent (real QEMU: libvirtd test)
    backend.suspend_machine(m.key)
    with pytest.raises(Conflict, match="SUSPENDED"):
        backend.capture_machine(m.key, "snap")


def test_capture_of_a_diskless_machine_conflicts(backend):
    m = backend.create_machine(model.MachineSpec("m", 1, 65536))
    with pytest.raises(Conflict):
        backend.capture_machine(m.key, "snap")


def test_attach_honours_a_target_and_fills_the_next_one(backend, conn):
    m = backend.create_machine(model.MachineSpec("m", 1, 65536, disks=[model.DiskSpec(MiB)]))
    a = backend.create_volume(model.VolumeSpec("a", MiB))
    b = backend.create_volume(model.VolumeSpec("b", MiB))
    assert backend.attach_volume(m.key, a.key, target="vdf") == "vdf"
    assert backend.attach_volume(m.key, b.key) == "vdb"
    assert {d.key: d.target for d in backend.machine(m.key).disks} == {
        m.disks[0].key: "vda", a.key: "vdf", b.key: "vdb"}


def test_without_hotplug_a_running_machine_changes_at_next_boot(backend, conn):
    """The test driver cannot hot-plug: the persistent definition changes."""
    m = backend.create_machine(model.MachineSpec("m", 1, 65536))
    vol = backend.create_volume(model.VolumeSpec("a", MiB))
    backend.start_machine(m.key)
    assert backend.attach_volume(m.key, vol.key) == "vda"
    dom = conn.lookupByUUIDString(m.key)
    assert vol.key in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    assert [d.key for d in backend.machine(m.key).disks] == [vol.key]
    backend.detach_volume(m.key, vol.key)
    assert vol.key not in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    assert dom.isActive()


@pytest.mark.parametrize("call", [
    lambda b, m, v: b.attach_volume("6f7e55c6-0000-0000-0000-000000000000", v),
    lambda b, m, v: b.attach_volume(m, "/default-pool/missing"),
    lambda b, m, v: b.capture_machine("6f7e55c6-0000-0000-0000-000000000000", "x"),
])
def test_missing_objects_are_not_found(backend, call):
    m = backend.create_machine(model.MachineSpec("m", 1, 65536))
    vol = backend.create_volume(model.VolumeSpec("a", MiB))
    with pytest.raises(NotFound):
        call(backend, m.key, vol.key)


def test_deleting_what_is_gone_succeeds(backend):
    backend.delete_image("/default-pool/missing")
    backend.delete_volume("/default-pool/missing")
    backend.delete_network("missing")
