"""Capture of a running Machine on a real libvirtd: crash-consistent, standalone, and the guest runs on."""
import json
import subprocess
import uuid

import libvirt
import pytest

from backends import model
from backends.libvirt import xml

pytestmark = pytest.mark.libvirtd
MiB = 1 << 20
MARKER = 0x5A


def qemu_img(*args):
    return subprocess.run(["qemu-img", *args], capture_output=True, text=True, check=True).stdout


def live_root(observer, name):
    """The file the running domain's first disk reads and writes now (live XML)."""
    dom = observer.lookupByName(name)
    return next(d.source_file for d in xml.Domain.parse(dom.XMLDesc(0)).disks if d.device == xml.Disk.DEVICE_DISK)


@pytest.mark.parametrize("pause", [False, True])
def test_capture_of_a_running_machine_holds_its_disk_and_leaves_it_running(real, tmp_path, pause):
    b, observer, made = real
    tag = uuid.uuid4().hex[:8]
    base = b.create_image(f"capture-base-{tag}", 8 * MiB)
    made.append(("image", base.key))
    m = b.create_machine(model.MachineSpec(f"capture-{tag}", 1, 65536,
                                           disks=[model.DiskSpec(8 * MiB, image_key=base.key)]))
    made.append(("machine", m.key))
    overlay = m.disks[0].key
    # Marker bytes written to the overlay while stopped: a guest without an OS writes nothing itself.
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -P {MARKER} 1M 64k", overlay], check=True,
                   capture_output=True)
    assert b.start_machine(m.key).state == model.STARTED
    if pause:
        assert b.pause_machine(m.key).state == model.PAUSED
    image = b.capture_machine(m.key, f"capture-image-{tag}")
    made.insert(0, ("image", image.key))
    assert b.capture_machine(m.key, f"capture-image-{tag}") == image            # a replayed Job
    info = json.loads(qemu_img("info", "--output=json", "-U", observer.storageVolLookupByKey(image.key).path()))
    assert "backing-filename" not in info and info["format"] == image.format   # standalone
    raw = tmp_path / "capture.raw"
    qemu_img("convert", "-U", "-O", "raw", observer.storageVolLookupByKey(image.key).path(), str(raw))
    content = raw.read_bytes()
    assert content[MiB:MiB + 65536] == bytes([MARKER]) * 65536                # the disk's bytes
    assert b.machine(m.key).state == (model.PAUSED if pause else model.STARTED)
    assert live_root(observer, f"capture-{tag}") == overlay                    # the original overlay again
    dom = observer.lookupByName(f"capture-{tag}")
    inactive = xml.Domain.parse(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    assert inactive.disks[0].source_file == overlay
    backing = json.loads(qemu_img("info", "--output=json", "-U", overlay)).get("backing-filename")
    assert backing == observer.storageVolLookupByKey(base.key).path()          # the chain is as it was
    pool = observer.storagePoolLookupByName(b.volume_pool)
    pool.refresh(0)
    assert not [v.name() for v in pool.listAllVolumes(0) if v.name().endswith(".capture")]
    b.stop_machine(m.key, force=True)
