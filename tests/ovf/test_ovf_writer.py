"""Round trips: read a sample, write it, read it back, same facts."""

import pytest

from tests.ovf.conftest import sample
from ovf.hardware import resolve_hardware
from ovf.manifest import parse_manifest
from ovf.reader import read_envelope
from ovf.writer import write_descriptor, write_manifest, write_ova

ROUND_TRIP = [
    "cot__vmware-style-cot-edited__input.ovf", "cot__cisco-appliance__csr1000v.ovf",
    "cot__virtualbox-ovf2.0__ubuntu.2.0.ovf", "cot__vmware-vsphere__vmware.ovf",
    "virt-v2v__vmware-two-disks__test-i-ova-two-disks.ovf",
    "govmomi__vmware-ovftool35-vsc__vApp_with_2vms.ovf",
    "govmomi__dsp0243-2.1.1-example3-ovf2.0__virtualsystemcollection.ovf",
]


def facts(env):
    out = [env.references, env.disks, env.networks, env.configurations]
    for vs in env.virtualSystems():
        for profile in [c.id for c in env.configurations] or [None]:
            out.append((vs.id, vs.name, vs.osId, vs.transport, vs.properties,
                        vs.eulas, resolve_hardware(env, vs, profile)))
    return out


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_round_trip_keeps_facts(name):
    env = read_envelope(sample(name).read_bytes())
    again = read_envelope(write_descriptor(env))
    assert again.ovfVersion == "1.x"
    assert facts(again) == facts(env)


def test_manifest_reads_back():
    mf = write_manifest({"vm.ovf": b"<x/>", "disk.vmdk": b"data"})
    entries = parse_manifest(mf, "2.x")
    assert set(entries) == {"vm.ovf", "disk.vmdk"}
    assert entries["disk.vmdk"].digest.startswith("3a6eb079")


def test_ova_reads_back_and_is_never_overwritten(tmp_path):
    """write_ova: descriptor, manifest, then the disk; the reader checks it all; an existing file stays."""
    import tarfile

    from ovf.model import Disk, Envelope, File, Item, VirtualSystem, RT_DISK
    from ovf.package import open_package
    from tests.ovf.conftest import make_disk
    disk = tmp_path / "vm-disk1.vmdk"
    disk.write_bytes(make_disk(tmp_path))
    env = Envelope("1.0", [File("file1", disk.name, disk.stat().st_size)],
                   [Disk("vmdisk1", 1 << 20, "vmdk-streamOptimized", None, "file1")], [], [],
                   VirtualSystem(id="vm", name="vm", items=[Item("1", RT_DISK, hostResource=("ovf:/disk/vmdisk1",))]))
    target = tmp_path / "out.ova"
    write_ova(target, env, [(disk.name, str(disk))])
    with tarfile.open(target) as tar:
        assert tar.getnames() == ["out.ovf", "out.mf", disk.name]
    (tmp_path / "unpacked").mkdir()
    package = open_package(target, tmp_path / "unpacked")
    assert package.manifestChecked and package.formats["file1"].format == "vmdk-streamOptimized"
    before = target.read_bytes()
    with pytest.raises(FileExistsError):
        write_ova(target, env, [(disk.name, str(disk))])
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
