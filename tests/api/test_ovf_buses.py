"""OVF disks keep their controller: an IDE disk stays IDE, a SCSI one SCSI (virtio-scsi), in the package's
order, in the MachineTemplate, in the Machine's domain XML (test driver) and through an export."""
import pytest
from lxml import etree

from cimi import naming
from cimi.ops.ovf_import import controller_bus
from ovf.hardware import Controller, resolve_hardware
from ovf.model import (RT_DISK, RT_IDE, RT_MEMORY, RT_OTHER_STORAGE, RT_PROCESSOR, RT_SCSI, Disk, Envelope, File,
                       Item, VirtualSystem)
from ovf.names import DISK_FORMAT_URIS
from ovf.package import open_package
from ovf.writer import write_descriptor
from tests.api.test_ovf_export import download_href, export
from tests.api.test_ovf_import import CIMI, import_op, user_import_dir
from tests.api.test_ovf_import_fidelity import machine_template, run_import
from tests.ovf.conftest import make_disk, manifest_line, write_ova

#: (disk Item's controller InstanceID) of each disk, in the package's order: IDE, SCSI, IDE.
CONTROLLERS = ["3", "4", "3"]


def ide_scsi_ova(target, tmp_path, controllers=CONTROLLERS):
    """A package whose boot disk is on IDE, then a SCSI disk, then a second IDE disk."""
    data = make_disk(tmp_path)
    items = [Item("1", RT_PROCESSOR, virtualQuantity="1"),
             Item("2", RT_MEMORY, virtualQuantity="128", allocationUnits="byte * 2^20"),
             Item("3", RT_IDE, resourceSubType="PIIX4", address="0"),
             Item("4", RT_SCSI, resourceSubType="lsilogic", address="0"),
             Item("5", RT_OTHER_STORAGE, resourceSubType="AHCI", address="0")]
    items += [Item(str(10 + n), RT_DISK, hostResource=(f"ovf:/disk/vmdisk{n}",), parent=parent,
                   addressOnParent=str(n - 1)) for n, parent in enumerate(controllers, 1)]
    count = len(controllers)
    env = Envelope("1.0", [File(f"file{n}", f"disk{n}.vmdk", len(data)) for n in range(1, count + 1)],
                   [Disk(f"vmdisk{n}", 1 << 20, "vmdk-streamOptimized", DISK_FORMAT_URIS["vmdk-streamOptimized"],
                         f"file{n}") for n in range(1, count + 1)],
                   [], [], VirtualSystem("buses", "buses", items=items))
    members = [("buses.ovf", write_descriptor(env))] + [(f"disk{n}.vmdk", data) for n in range(1, count + 1)]
    mf = "".join(manifest_line(name, d) for name, d in members)
    return write_ova(target, [members[0], ("buses.mf", mf.encode()), *members[1:]])


@pytest.fixture
def import_dir(cloud):
    return user_import_dir(cloud)


def domain_buses(libvirt_conn, machine):
    """(target, bus) of each disk of the machine's domain, in the domain's order; and its controllers."""
    tree = etree.fromstring(libvirt_conn.lookupByName(naming.machine_name(machine["id"].rsplit("/", 1)[-1])).XMLDesc(0))
    disks = [(d.find("target").get("dev"), d.find("target").get("bus"))
             for d in tree.findall("devices/disk[@device='disk']") if d.findtext("serial") != "cidata"]
    return disks, [(c.get("type"), c.get("model")) for c in tree.findall("devices/controller[@type='scsi']")]


def machine_from(client, template):
    [component] = template["componentDescriptors"]
    _, machine = client.create("machines", {"name": "buses", "machineTemplate": {
        "href": component["machineTemplate"]["href"], "initialState": "STOPPED"}})
    assert machine["state"] == "STOPPED", machine.get("statusMessage")
    return machine


def test_disks_keep_their_controllers_in_the_template_and_the_domain(alice, import_dir, tmp_path, libvirt_conn):
    template, _ = run_import(alice, ide_scsi_ova(import_dir / "buses.ova", tmp_path))
    mt = machine_template(alice, template)
    config = alice.get(mt["machineConfig"]["href"]).json
    assert [d["initialLocation"] for d in config["disks"]] == ["hda"]
    assert [v["initialLocation"] for v in mt["volumeTemplates"]] == ["sda", "hdb"]     # the package's order
    machine = machine_from(alice, template)
    disks, controllers = domain_buses(libvirt_conn, machine)
    assert disks == [("hda", "ide"), ("hdb", "ide"), ("sda", "scsi")]      # libvirt lists them by bus
    assert controllers == [("scsi", "virtio-scsi")]
    attached = alice.get(machine["volumes"]["href"]).json["machineVolumes"]
    assert sorted(a["initialLocation"] for a in attached) == ["hdb", "sda"]


def test_sata_disks_share_the_sd_names_and_say_their_bus(alice, import_dir, tmp_path, libvirt_conn):
    """SCSI and SATA disks are both sd* (as Linux names them): the template records "bus": "sata" where the
    name alone would say SCSI, in JSON and (an extension attribute) in DSP8009-valid XML."""
    from cimi.vocabulary import EXTENSION_NS
    from tests.api.test_xml_schema import XSD, check
    from tests.conftest import XML
    template, _ = run_import(alice, ide_scsi_ova(import_dir / "buses.ova", tmp_path, controllers=["5", "4", "5"]))
    mt = machine_template(alice, template)
    config = alice.get(mt["machineConfig"]["href"]).json
    assert [(d["initialLocation"], d.get("bus")) for d in config["disks"]] == [("sda", "sata")]
    assert [(v["initialLocation"], v.get("bus")) for v in mt["volumeTemplates"]] == [("sdb", None), ("sdc", "sata")]
    xsd = etree.XMLSchema(etree.parse(str(XSD)))
    doc = check(xsd, alice.get(mt["id"], accept=XML), "MachineTemplate")
    assert [v.get(f"{{{EXTENSION_NS}}}bus") for v in doc.iter(f"{{{CIMI}}}volumeTemplate")] == [None, "sata"]
    check(xsd, alice.get(mt["machineConfig"]["href"], accept=XML), "MachineConfiguration")
    disks, controllers = domain_buses(libvirt_conn, machine_from(alice, template))
    assert sorted(disks) == [("sda", "sata"), ("sdb", "scsi"), ("sdc", "sata")]
    assert controllers == [("scsi", "virtio-scsi")]


def test_bus_policy_virtio_puts_every_disk_on_virtio(alice, import_dir, tmp_path, libvirt_conn):
    template, _ = run_import(alice, ide_scsi_ova(import_dir / "buses.ova", tmp_path),
                             properties={"busPolicy": "virtio"})
    assert [v["initialLocation"] for v in machine_template(alice, template)["volumeTemplates"]] == ["vdb", "vdc"]
    disks, controllers = domain_buses(libvirt_conn, machine_from(alice, template))
    assert disks == [("vda", "virtio"), ("vdb", "virtio"), ("vdc", "virtio")] and controllers == []


def test_an_unknown_bus_policy_is_400_and_imports_nothing(alice, import_dir, tmp_path):
    ova = ide_scsi_ova(import_dir / "buses.ova", tmp_path)
    before = alice.get(alice.cep()["systemTemplates"]["href"]).json["count"]
    resp = alice.post(import_op(alice), {"action": f"{CIMI}/action/import", "source": str(ova),
                                         "properties": {"busPolicy": "scsi"}})
    assert resp.status_code == 400 and "busPolicy" in resp.json["message"]
    assert alice.get(alice.cep()["systemTemplates"]["href"]).json["count"] == before


def test_more_than_four_ide_disks_fail_the_import_with_a_reason(alice, import_dir, tmp_path):
    ova = ide_scsi_ova(import_dir / "buses.ova", tmp_path, controllers=["3"] * 5)
    resp = alice.post(import_op(alice), {"action": f"{CIMI}/action/import", "source": str(ova)})
    job = alice.wait(resp.headers["CIMI-Job-URI"])
    assert job["state"] == "FAILED" and "more than 4 disks on its ide" in job["statusMessage"]


@pytest.mark.parametrize("controllers,expected", [
    (CONTROLLERS, [(RT_IDE, "ide"), (RT_IDE, "ide"), (RT_SCSI, "scsi")]),
    (["5", "4", "5"], [(RT_OTHER_STORAGE, "sata"), (RT_OTHER_STORAGE, "sata"), (RT_SCSI, "scsi")]),
])
def test_export_writes_each_disk_under_its_controller(alice, cloud, import_dir, tmp_path, controllers, expected):
    template, _ = run_import(alice, ide_scsi_ova(import_dir / "buses.ova", tmp_path, controllers))
    job = export(alice, machine_from(alice, template))
    assert job["state"] == "SUCCESS", job.get("statusMessage")
    ova = tmp_path / "back.ova"
    ova.write_bytes(alice.get(download_href(job)).content)
    package = open_package(ova, dest=tmp_path)
    (vs,) = package.envelope.virtualSystems()
    hw = resolve_hardware(package.envelope, vs, None)
    kinds = {c.instanceID: (c.resourceType, controller_bus(c)) for c in hw.controllers}
    # The domain's order (libvirt's: by bus, then name), each on a controller of its kind.
    assert [kinds[d.controller] for d in hw.disks] == expected
    assert [d.capacityBytes for d in hw.disks] == [1 << 20] * 3


@pytest.mark.parametrize("kind,sub_type,bus", [
    (RT_IDE, "PIIX4", "ide"), (RT_IDE, None, "ide"),
    (RT_SCSI, "lsilogic", "scsi"), (RT_SCSI, "VirtualSCSI", "scsi"), (RT_SCSI, "VirtioSCSI", "scsi"),
    (RT_SCSI, "virtio lsilogic", "virtio"),             # COT: virtio first, lsilogic for the others
    (RT_OTHER_STORAGE, "AHCI", "sata"), (RT_OTHER_STORAGE, "vmware.sata.ahci", "sata"),
    (RT_OTHER_STORAGE, "NVMe", "virtio"), (RT_OTHER_STORAGE, None, "virtio"),
])
def test_controller_bus(kind, sub_type, bus):
    assert controller_bus(Controller("3", kind, sub_type)) == bus


def test_a_disk_without_a_controller_is_virtio():
    assert controller_bus(None) == "virtio"


@pytest.mark.parametrize("where", ["disks", "volumeTemplates"])
def test_a_bus_that_contradicts_the_name_is_400_and_makes_nothing(alice, import_dir, tmp_path, where):
    template, _ = run_import(alice, ide_scsi_ova(import_dir / "buses.ova", tmp_path))
    mt = machine_template(alice, template)
    config = alice.get(mt["machineConfig"]["href"]).json
    disks = [{**config["disks"][0], **({"bus": "sata"} if where == "disks" else {})}]
    volume_templates = [{**mt["volumeTemplates"][0], **({"bus": "ide"} if where == "volumeTemplates" else {})}]
    before = alice.get(alice.cep()["machines"]["href"]).json["count"]
    resp = alice.post(alice.cep()["machines"]["href"], {"name": "bad", "machineTemplate": {
        "machineConfig": {"cpu": 1, "memory": 131072, "disks": disks}, "machineImage": mt["machineImage"],
        "volumeTemplates": volume_templates}})
    assert resp.status_code == 400 and "bus is named" in resp.json["message"], resp.text
    assert alice.get(alice.cep()["machines"]["href"]).json["count"] == before
