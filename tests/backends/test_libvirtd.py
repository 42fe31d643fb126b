"""What only a real libvirtd with QEMU can show (uploads, hot-plug, restarts)."""
import subprocess
import threading
import time
import uuid

import libvirt
import pytest
from lxml import etree

from backends import BackendError, model

pytestmark = pytest.mark.libvirtd
MiB = 1 << 20


def test_uploaded_bytes_arrive_verbatim(real, tmp_path):
    b, observer, made = real
    payload = bytes(range(256)) * 4096 + b"tail"      # > 1 MiB: several chunks
    source = tmp_path / "disk.raw"
    source.write_bytes(payload)
    image = b.create_image("raw-upload", 0, str(source), "raw")
    made.append(("image", image.key))
    assert (image.format, image.capacity_bytes) == ("raw", len(payload))
    stream = observer.newStream(0)
    observer.storageVolLookupByKey(image.key).download(stream, 0, len(payload), 0)
    received = bytearray()
    while chunk := stream.recv(MiB):
        received += chunk
    stream.finish()
    assert bytes(received) == payload


def test_upload_refuses_a_backing_file(real, tmp_path):
    """APPSEC: a qcow2 naming a host file as backing store must not get in."""
    b, observer, _made = real
    evil = tmp_path / "evil.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", "/etc/hostname",
                    str(evil), "1M"], check=True)
    pool = observer.storagePoolLookupByName(b.image_pool)
    before = len(pool.listAllVolumes(0))
    with pytest.raises(BackendError, match="backing file"):
        b.create_image("evil", 0, str(evil), "qcow2")
    assert len(pool.listAllVolumes(0)) == before


def test_create_and_start_is_fast_and_kvm_when_offered(real, libvirtd_pool, capsys):
    b, observer, made = real
    _pool, qcow2 = libvirtd_pool
    image = b.create_image("timed-image", 0, qcow2, "qcow2")
    made.append(("image", image.key))
    began = time.monotonic()
    m = b.create_machine(model.MachineSpec("timed", 1, 131072, disks=[model.DiskSpec(0, image.key)]))
    made.append(("machine", m.key))
    assert b.start_machine(m.key).state == model.STARTED
    elapsed = time.monotonic() - began
    with capsys.disabled():
        print(f"\n[libvirtd] create+start took {elapsed:.2f} s")
    assert elapsed < 10
    dom = observer.lookupByUUIDString(m.key)
    offered = etree.fromstring(observer.getCapabilities()).xpath("//guest/arch/domain/@type")
    assert etree.fromstring(dom.XMLDesc(0)).get("type") == ("kvm" if "kvm" in offered else "qemu")


def test_attach_to_a_running_machine_is_live(real):
    b, observer, made = real
    m = b.create_machine(model.MachineSpec("hotplug", 1, 65536, disks=[model.DiskSpec(MiB)]))
    made.append(("machine", m.key))
    vol = b.create_volume(model.VolumeSpec("hotplug-data", MiB))
    made.insert(0, ("volume", vol.key))
    b.start_machine(m.key)
    assert b.attach_volume(m.key, vol.key) == "vdb"
    dom = observer.lookupByUUIDString(m.key)
    for flags in (0, libvirt.VIR_DOMAIN_XML_INACTIVE):     # live and persistent
        sources = etree.fromstring(dom.XMLDesc(flags)).xpath("devices/disk/source/@file")
        assert vol.key in sources
    b.stop_machine(m.key, force=True)
    b.detach_volume(m.key, vol.key)
    assert vol.key not in etree.fromstring(dom.XMLDesc(0)).xpath("devices/disk/source/@file")


def test_backend_survives_a_libvirtd_restart(real, libvirtd_setup):
    if not libvirtd_setup.started("libvirtd"):
        pytest.skip("libvirtd was already running: not restarting someone else's daemon")
    b, _observer, _made = real
    before = b.hosts()
    libvirtd_setup.restart_libvirtd()
    after = b.hosts()                   # the Host reopened its connection
    assert [(h.name, h.cpus, h.memory_kib) for h in after] == [
        (h.name, h.cpus, h.memory_kib) for h in before]


def test_autostart_follows_the_state(real):
    """libvirtd boots what runs when the host restarts, and leaves stopped things stopped."""
    import random
    import uuid
    b, observer, made = real
    m = b.create_machine(model.MachineSpec("autostart-" + uuid.uuid4().hex[:6], 1, 65536,
                                           disks=[model.DiskSpec(MiB)]))
    made.append(("machine", m.key))
    dom = observer.lookupByUUIDString(m.key)
    assert dom.autostart() == 0                            # defined, never started
    b.start_machine(m.key)
    assert dom.autostart() == 1
    b.stop_machine(m.key, force=True)
    assert dom.autostart() == 0
    cidr = f"10.{random.randint(1, 254)}.{random.randint(1, 254)}.0/24"
    net = b.create_network(model.NetworkSpec("dsc-auto-" + uuid.uuid4().hex[:6], "isolated", cidr))
    made.append(("network", net.key))
    b.start_network(net.key)
    assert observer.networkLookupByName(net.key).autostart() == 1
    b.stop_network(net.key)
    assert observer.networkLookupByName(net.key).autostart() == 0


def test_uploads_succeed_while_other_volumes_are_built_in_the_pool(real, libvirtd_pool, tmp_path):
    """libvirt refuses to refresh a pool while it builds a volume: an upload waits rather than fails.

    Machines created side by side (several workers, several front ends) build
    overlays while another machine's config drive is uploaded to the same pool.
    """
    b, observer, made = real
    pool = observer.storagePoolLookupByName(libvirtd_pool[0])
    source = tmp_path / "drive.raw"
    source.write_bytes(b"x" * 65536)
    done = threading.Event()

    def build_volumes():
        n = 0
        while not done.is_set():
            xml = (f"<volume><name>busy-{uuid.uuid4().hex[:8]}-{n}.qcow2</name><capacity>{1 << 30}</capacity>"
                   "<target><format type='qcow2'/></target></volume>")
            pool.createXML(xml, 0).delete(0)
            n += 1
            time.sleep(0.02)                         # machines are not created back to back
    builders = [threading.Thread(target=build_volumes) for _ in range(2)]
    for builder in builders:
        builder.start()
    try:
        for n in range(10):
            image = b.create_image(f"upload-{uuid.uuid4().hex[:8]}-{n}", 0, str(source), "raw")
            made.append(("image", image.key))
    finally:
        done.set()
        for builder in builders:
            builder.join()
