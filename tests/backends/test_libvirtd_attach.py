"""Attachments on a real libvirtd: what the running guest holds is the truth."""
import uuid

import libvirt
import pytest
from lxml import etree

from backends import Conflict, model

pytestmark = pytest.mark.libvirtd
MiB = 1 << 20


def sources(dom, flags):
    return etree.fromstring(dom.XMLDesc(flags)).xpath("devices/disk/source/@file")


def running_with_volume(b, made, attached=True):
    """A running machine and a Volume (attached at the first free virtio name unless told otherwise)."""
    suffix = uuid.uuid4().hex[:8]
    m = b.create_machine(model.MachineSpec(f"attach-{suffix}", 1, 65536, disks=[model.DiskSpec(MiB)]))
    made.append(("machine", m.key))
    vol = b.create_volume(model.VolumeSpec(f"attach-data-{suffix}", MiB))
    made.insert(0, ("volume", vol.key))
    b.start_machine(m.key)
    if attached:
        b.attach_volume(m.key, vol.key)
    return m, vol


def test_a_guest_that_keeps_the_disk_fails_the_detach_and_keeps_the_attachment(tcg):
    """A guest without an OS never acknowledges the PCI unplug: the disk stays, everywhere."""
    b, observer, made = tcg
    m, vol = running_with_volume(b, made)
    dom = observer.lookupByUUIDString(m.key)
    with pytest.raises(Conflict, match="did not release"):
        b.detach_volume(m.key, vol.key, timeout=2)
    assert vol.key in sources(dom, 0)
    assert vol.key in sources(dom, libvirt.VIR_DOMAIN_XML_INACTIVE)
    assert b.volume_attachment(m.key, vol.key) == "vdb"
    assert b.volume_holders(vol.key) == [dom.name()]
    with pytest.raises(Conflict, match="attached to"):
        b.delete_volume(vol.key)
    b.stop_machine(m.key, force=True)
    b.detach_volume(m.key, vol.key, timeout=2)          # a stopped machine lets go at once
    assert vol.key not in sources(dom, libvirt.VIR_DOMAIN_XML_INACTIVE)
    assert b.volume_holders(vol.key) == []


@pytest.mark.parametrize("lost_from", ["persistent", "live"])
def test_attachment_repairs_the_definition_from_the_running_guest(tcg, lost_from):
    """What an interrupted attach or detach leaves: the running guest decides, the definition follows."""
    b, observer, made = tcg
    m, vol = running_with_volume(b, made)
    dom = observer.lookupByUUIDString(m.key)
    disk = etree.tostring(etree.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
                          .xpath(f"devices/disk[source/@file='{vol.key}']")[0], encoding="unicode")
    if lost_from == "persistent":                       # a detach killed after editing the definition
        dom.detachDeviceFlags(disk, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
        assert b.volume_attachment(m.key, vol.key) == "vdb"
        assert vol.key in sources(dom, libvirt.VIR_DOMAIN_XML_INACTIVE)
    else:                                               # the live device is gone, the definition not
        b.stop_machine(m.key, force=True)
        dom.detachDeviceFlags(disk, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
        b.start_machine(m.key)
        dom.attachDeviceFlags(disk, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
        assert b.volume_attachment(m.key, vol.key) is None
        assert vol.key not in sources(dom, libvirt.VIR_DOMAIN_XML_INACTIVE)


def test_a_retried_detach_awaits_the_unplug_already_asked_for(tcg):
    """QEMU refuses a second unplug while the first waits: the retry still waits, then fails the same way."""
    b, observer, made = tcg
    m, vol = running_with_volume(b, made)
    with pytest.raises(Conflict):
        b.detach_volume(m.key, vol.key, timeout=1)
    with pytest.raises(Conflict, match="did not release"):
        b.detach_volume(m.key, vol.key, timeout=1)
    assert b.volume_attachment(m.key, vol.key) == "vdb"


@pytest.mark.parametrize("target,bus", [("sdb", "scsi"), ("hdb", "ide")])
def test_a_disk_named_for_another_bus_attaches_on_that_bus(tcg, target, bus):
    """sd* hot-plugs on a virtio-scsi controller added first (libvirt alone would pick lsilogic); hd* on IDE
    is refused while it runs (QEMU cannot hot-plug IDE) and attaches once stopped."""
    b, observer, made = tcg
    m, vol = running_with_volume(b, made, attached=False)
    dom = observer.lookupByUUIDString(m.key)
    if bus == "ide":
        with pytest.raises(Conflict, match="stop it first"):
            b.attach_volume(m.key, vol.key, target)
        b.stop_machine(m.key, force=True)
    assert b.attach_volume(m.key, vol.key, target) == target
    for flags in ((0, libvirt.VIR_DOMAIN_XML_INACTIVE) if bus == "scsi" else (libvirt.VIR_DOMAIN_XML_INACTIVE,)):
        tree = etree.fromstring(dom.XMLDesc(flags))
        assert tree.xpath(f"devices/disk[source/@file='{vol.key}']/target/@bus") == [bus]
        if bus == "scsi":
            assert tree.xpath("devices/controller[@type='scsi']/@model") == ["virtio-scsi"]
