"""OVF fidelity on qemu:///system: every disk's bytes and every NIC reach the Machine, and survive
an export and a re-import. Bytes are read from the disks the live domain XML references."""
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from lxml import etree

from backends.libvirt import designer
from ovf.model import (RT_DISK, RT_ETHERNET, RT_IDE, RT_MEMORY, RT_OTHER_STORAGE, RT_PROCESSOR, RT_SCSI, Disk,
                       Envelope, File, Item, Network, VirtualSystem)
from ovf.names import DISK_FORMAT_URIS
from ovf.writer import write_descriptor
from tests.api.test_ovf_export import download_href, export, op_href, real_cloud  # noqa: F401
from tests.api.test_ovf_import import CIMI, import_op, user_import_dir
from tests.ovf.conftest import manifest_line, write_ova

MIB = 1 << 20
MARK_AT = 3 * MIB


def marked_vmdk(work, n, marker):
    """A streamOptimized VMDK of 8 MiB whose bytes at MARK_AT are `marker`."""
    raw = work / f"disk{n}.raw"
    with open(raw, "wb") as f:
        f.truncate(8 * MIB)
        f.seek(MARK_AT)
        f.write(marker)
    out = work / f"disk{n}.vmdk"
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized",
                    str(raw), str(out)], check=True)
    return out.read_bytes()


def three_disk_ova(work, target, markers, macs, parents=("3", "3", "3"), name="three"):
    """A package built here: three disks (on one SCSI controller, unless `parents` say IDE "4" or SATA "5"),
    two NICs on two networks."""
    datas = [marked_vmdk(work, n, m) for n, m in enumerate(markers, 1)]
    items = [Item("1", RT_PROCESSOR, virtualQuantity="1"),
             Item("2", RT_MEMORY, virtualQuantity="128", allocationUnits="byte * 2^20"),
             Item("3", RT_SCSI, resourceSubType="lsilogic"),
             Item("4", RT_IDE, resourceSubType="PIIX4", address="0"),
             Item("5", RT_OTHER_STORAGE, resourceSubType="AHCI", address="0")]
    items += [Item(str(10 + n), RT_DISK, hostResource=(f"ovf:/disk/vmdisk{n}",), parent=parent,
                   addressOnParent=str(n - 1)) for n, parent in enumerate(parents, 1)]
    items += [Item("20", RT_ETHERNET, resourceSubType="E1000", connection=("front",), address=macs[0]),
              Item("21", RT_ETHERNET, resourceSubType="VMXNET3", connection=("back",), address=macs[1])]
    env = Envelope("1.0", [File(f"file{n}", f"disk{n}.vmdk", len(d)) for n, d in enumerate(datas, 1)],
                   [Disk(f"vmdisk{n}", 8 * MIB, "vmdk-streamOptimized", DISK_FORMAT_URIS["vmdk-streamOptimized"],
                         f"file{n}") for n in range(1, 4)],
                   [Network("front"), Network("back")], [], VirtualSystem(name, name, items=items))
    desc = write_descriptor(env)
    members = [(f"{name}.ovf", desc)] + [(f"disk{n}.vmdk", d) for n, d in enumerate(datas, 1)]
    mf = "".join(manifest_line(member, data) for member, data in members)
    return write_ova(target, [members[0], (f"{name}.mf", mf.encode()), *members[1:]])


def domain_disks(observer, machine_id, work):
    """The guest-visible bytes of each disk the live domain XML references, in target order (not the config drive)."""
    from cimi import naming
    dom = observer.lookupByName(naming.machine_name(machine_id.rsplit("/", 1)[-1]))
    tree = etree.fromstring(dom.XMLDesc(0))
    out = []
    for disk in tree.findall("devices/disk[@device='disk']"):
        if disk.findtext("serial") == designer.CONFIG_DRIVE_SERIAL:
            continue
        source, target = disk.find("source").get("file"), disk.find("target").get("dev")
        raw = work / f"read-{uuid.uuid4().hex[:6]}.raw"
        subprocess.run(["qemu-img", "convert", "-q", "-f", disk.find("driver").get("type"), "-O", "raw",
                        source, str(raw)], check=True)
        with open(raw, "rb") as f:
            f.seek(MARK_AT)
            out.append((target, f.read(64)))
        raw.unlink()
    return sorted(out), tree


def domain_nics(tree):
    return [(i.find("mac").get("address"), i.find("model").get("type"), i.find("source").get("network"))
            for i in tree.findall("devices/interface")]


def import_package(client, ova):
    resp = client.post(import_op(client), {"action": f"{CIMI}/action/import", "source": str(ova)})
    assert resp.status_code == 202, resp.text
    job = client.wait(resp.headers["CIMI-Job-URI"], timeout=180)
    assert job["state"] == "SUCCESS", job.get("statusMessage")
    return client.get(resp.headers["Location"]).json


def machine_from(client, template, name):
    [component] = template["componentDescriptors"]
    resp = client.post(client.cep()["machines"]["href"], {"name": name, "machineTemplate": {
        "href": component["machineTemplate"]["href"], "initialState": "STOPPED"}})
    assert resp.status_code == 202, resp.text
    job = client.wait(resp.headers["CIMI-Job-URI"], timeout=180)
    assert job["state"] == "SUCCESS", job.get("statusMessage")
    return client.get(resp.headers["Location"]).json


@pytest.mark.libvirtd
def test_every_disk_and_nic_reaches_the_machine_and_survives_export(real_cloud, tmp_path):
    cloud, alice, observer = real_cloud
    tag = uuid.uuid4().hex[:8]
    markers = [f"MARKER-{n}-{tag}".encode().ljust(64, b".") for n in range(1, 4)]
    macs = ["52:54:00:a1:%s:%s" % (tag[:2], tag[2:4]), "52:54:00:b2:%s:%s" % (tag[:2], tag[2:4])]
    work = tmp_path / "work"
    work.mkdir()
    ova = three_disk_ova(work, user_import_dir(cloud) / "three.ova", markers, macs)

    template = import_package(alice, ova)
    machine = machine_from(alice, template, "three")
    disks, tree = domain_disks(observer, machine["id"], work)
    assert disks == [("sda", markers[0]), ("sdb", markers[1]), ("sdc", markers[2])]      # its SCSI controller
    nics = domain_nics(tree)
    assert [(mac, model) for mac, model, _ in nics] == [(macs[0], "e1000"), (macs[1], "virtio")]
    assert nics[0][2] != nics[1][2]

    job = export(alice, machine)
    assert job["state"] == "SUCCESS", job.get("statusMessage")
    exported = Path(cloud.config.export_dir) / download_href(job).rsplit("/", 1)[-1]
    cot = subprocess.run([str(Path(sys.executable).parent / "cot"), "info", str(exported)],
                         capture_output=True, text=True, timeout=300)
    assert cot.returncode == 0, cot.stderr               # an independent reader: COT
    assert cot.stdout.count("harddisk @ SCSI") == 3, cot.stdout
    assert "Ethernet device types:    E1000 virtio" in cot.stdout, cot.stdout
    nics = cot.stdout.split("NICs and Associated Networks:")[1].split()
    assert nics == ["ethernet", "0", ":", "front", "ethernet", "1", ":", "back"], cot.stdout
    again = user_import_dir(cloud) / "again.ova"
    again.write_bytes(exported.read_bytes())
    copy = machine_from(alice, import_package(alice, again), "three-again")
    disks2, tree2 = domain_disks(observer, copy["id"], work)
    assert disks2 == disks
    assert [(mac, model) for mac, model, _ in domain_nics(tree2)] == [(macs[0], "e1000"), (macs[1], "virtio")]


@pytest.mark.libvirtd
def test_ide_scsi_and_sata_disks_keep_their_buses_and_bytes(real_cloud, tmp_path, monkeypatch):
    """IDE boot disk, a SCSI disk, a SATA disk: QEMU runs them on those buses, each with its bytes."""
    from backends.libvirt import designer
    monkeypatch.setattr(designer, "DOMAIN_TYPES", ["qemu", "test"])    # TCG: SeaBIOS dies on this nested KVM
    cloud, alice, observer = real_cloud
    tag = uuid.uuid4().hex[:8]
    markers = [f"BUS-{n}-{tag}".encode().ljust(64, b".") for n in range(1, 4)]
    work = tmp_path / "work"
    work.mkdir()
    mac = f"52:54:00:c3:{tag[:2]}:{tag[2:4]}"
    ova = three_disk_ova(work, user_import_dir(cloud) / "buses.ova", markers, [mac, None], parents=("4", "3", "5"),
                         name="buses")
    machine = machine_from(alice, import_package(alice, ova), "buses")
    disks, _ = domain_disks(observer, machine["id"], work)
    assert disks == [("hda", markers[0]), ("sda", markers[1]), ("sdb", markers[2])]
    resp = alice.post(op_href(machine, "start"), {"action": f"{CIMI}/action/start"})
    job = alice.wait(resp.headers["CIMI-Job-URI"], timeout=120)
    assert job["state"] == "SUCCESS", job.get("statusMessage")
    from cimi import naming
    live = etree.fromstring(observer.lookupByName(naming.machine_name(machine["id"].rsplit("/", 1)[-1])).XMLDesc(0))
    buses = {d.find("target").get("dev"): d.find("target").get("bus") for d in live.findall("devices/disk")}
    assert {k: v for k, v in buses.items() if k != "vdz"} == {"hda": "ide", "sda": "scsi", "sdb": "sata"}
    assert [c.get("model") for c in live.findall("devices/controller[@type='scsi']")] == ["virtio-scsi"]
    assert live.find("os/type").get("machine").startswith("pc")       # i440fx: IDE exists (q35 has none)


def marked_raw(path, marker, size=8 * MIB):
    with open(path, "wb") as f:
        f.truncate(size)
        f.seek(MARK_AT)
        f.write(marker)
    return path


@pytest.mark.libvirtd
def test_a_machine_with_two_nics_and_a_volume_round_trips(real_cloud, tmp_path):
    """Made through the API (not from a package): two NICs on two Networks, a data Volume with a marker."""
    cloud, alice, observer = real_cloud
    tag = uuid.uuid4().hex[:8]
    markers = [f"ROOT-{tag}".encode().ljust(64, b"."), f"DATA-{tag}".encode().ljust(64, b".")]
    work = tmp_path / "work"
    work.mkdir()
    root = marked_raw(user_import_dir(cloud) / "root.raw", markers[0])
    _, image = alice.create("machineImages", {"name": "root", "imageLocation": f"file://{root}"})
    nets = [alice.create("networks", {"name": f"net-{n}-{tag}", "networkTemplate": {
        "networkConfig": {"networkType": "PRIVATE"}}})[1] for n in (1, 2)]
    _, volume = alice.create("volumes", {"name": "data", "volumeTemplate": {"volumeConfig": {"capacity": 8192}}})
    data = marked_raw(work / "data.raw", markers[1])
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(data), str(work / "data.qcow2")],
                   check=True)
    _, machine = alice.create("machines", {"name": "native", "machineTemplate": {
        "machineConfig": {"cpu": 1, "memory": 131072, "disks": [{"capacity": 8192, "format": "raw"}]},
        "machineImage": {"href": image["id"]}, "initialState": "STOPPED",
        "networkInterfaces": [{"network": {"href": n["id"]}} for n in nets],
        "volumes": [{"href": volume["id"], "initialLocation": "/dev/vdb"}]}})
    disks, tree = domain_disks(observer, machine["id"], work)
    vdb = [d for d in tree.findall("devices/disk[@device='disk']") if d.find("target").get("dev") == "vdb"][0]
    vol = observer.storageVolLookupByPath(vdb.find("source").get("file"))
    Path(vol.path()).write_bytes((work / "data.qcow2").read_bytes())     # the Volume's content: our marker
    disks, tree = domain_disks(observer, machine["id"], work)
    assert disks == [("vda", markers[0]), ("vdb", markers[1])]
    nics = domain_nics(tree)
    assert len(nics) == 2 and nics[0][2] != nics[1][2]

    job = export(alice, machine)
    assert job["state"] == "SUCCESS", job.get("statusMessage")
    exported = Path(cloud.config.export_dir) / download_href(job).rsplit("/", 1)[-1]
    cot = subprocess.run([str(Path(sys.executable).parent / "cot"), "info", str(exported)],
                         capture_output=True, text=True, timeout=300)
    assert cot.returncode == 0, cot.stderr
    assert cot.stdout.count("harddisk @ SCSI") == 2, cot.stdout
    assert cot.stdout.split("NICs and Associated Networks:")[1].split() == [
        "ethernet", "0", ":", f"net-1-{tag}", "ethernet", "1", ":", f"net-2-{tag}"], cot.stdout
    again = user_import_dir(cloud) / "native.ova"
    again.write_bytes(exported.read_bytes())
    copy = machine_from(alice, import_package(alice, again), "native-again")
    disks2, tree2 = domain_disks(observer, copy["id"], work)
    assert disks2 == disks
    assert [(mac, model) for mac, model, _ in domain_nics(tree2)] == [(mac, model) for mac, model, _ in nics]
