"""OVF import keeps what the package says: NICs (model, MAC, network), every disk, the
package's name; refuses an unknown profile before the 202; accepts real exporters' quirks."""
from pathlib import Path

import pytest

from cimi import naming
from tests.api.test_ovf_import import CIMI, counts, import_op, user_import_dir
from tests.ovf.conftest import descriptor, file_drive_descriptor, make_disk, manifest_line, write_ova

TWO_NICS = b"""<NetworkSection><Info>nets</Info><Network ovf:name="lan"/><Network ovf:name="storage net"/>
  </NetworkSection>"""
PROFILES = """
  <DeploymentOptionSection><Info>p</Info>
    <Configuration ovf:id="small" ovf:default="true"><Label>s</Label><Description>s</Description></Configuration>
    <Configuration ovf:id="big"><Label>b</Label><Description>b</Description></Configuration>
  </DeploymentOptionSection>"""


def nics_descriptor(size):
    return descriptor(size=size).replace(
        b'<NetworkSection><Info>nets</Info><Network ovf:name="lan"/></NetworkSection>', TWO_NICS).replace(
        b"""<Item><rasd:Connection>lan</rasd:Connection><rasd:InstanceID>5</rasd:InstanceID>
        <rasd:ResourceType>10</rasd:ResourceType></Item>""",
        b"""<Item><rasd:Address>00-16-3E-12-34-56</rasd:Address><rasd:Connection>lan</rasd:Connection>
        <rasd:InstanceID>5</rasd:InstanceID><rasd:ResourceSubType>E1000</rasd:ResourceSubType>
        <rasd:ResourceType>10</rasd:ResourceType></Item>
      <Item><rasd:Connection>storage net</rasd:Connection><rasd:InstanceID>6</rasd:InstanceID>
        <rasd:ResourceSubType>VMXNET3</rasd:ResourceSubType><rasd:ResourceType>10</rasd:ResourceType></Item>""")


def package(import_dir, tmp_path, desc_of=None, name="vm.ova"):
    disk = make_disk(tmp_path)
    desc = desc_of(len(disk)) if desc_of else descriptor(size=len(disk))
    mf = manifest_line("vm.ovf", desc) + manifest_line("disk.vmdk", disk)
    return write_ova(import_dir / name, [("vm.ovf", desc), ("vm.mf", mf.encode()), ("disk.vmdk", disk)])


def run_import(client, ova, **params):
    resp = client.post(import_op(client), {"action": f"{CIMI}/action/import", "source": str(ova), **params})
    assert resp.status_code == 202, resp.text
    job = client.wait(resp.headers["CIMI-Job-URI"])
    assert job["state"] == "SUCCESS", job.get("statusMessage")
    return client.get(resp.headers["Location"]).json, job


def machine_template(client, template):
    [component] = template["componentDescriptors"]
    return client.get(component["machineTemplate"]["href"]).json


@pytest.fixture
def import_dir(cloud):
    return user_import_dir(cloud)


def test_nics_become_template_interfaces_and_machine_nics(alice, import_dir, tmp_path, libvirt_conn):
    template, _ = run_import(alice, package(import_dir, tmp_path, nics_descriptor))
    mt = machine_template(alice, template)
    interfaces = mt["networkInterfaces"]
    names = [alice.get(i["network"]["href"]).json["name"] for i in interfaces]
    assert names == ["lan", "storage net"]
    assert [i.get("macAddress") for i in interfaces] == ["00:16:3e:12:34:56", None]
    assert [i["model"] for i in interfaces] == ["e1000", "virtio"]
    _, machine = alice.create("machines", {"name": "m", "machineTemplate": {"href": mt["id"]}})
    nics = alice.get(machine["networkInterfaces"]["href"]).json["machineNetworkInterfaces"]
    by_network = {n["network"]["href"]: n["macAddress"] for n in nics}      # the collection has no order
    assert sorted(by_network) == sorted(i["network"]["href"] for i in interfaces)
    assert by_network[interfaces[0]["network"]["href"]] == "00:16:3e:12:34:56"
    dom = libvirt_conn.lookupByName(naming.machine_name(machine["id"].rsplit("/", 1)[-1]))
    xml = dom.XMLDesc(0)
    assert xml.index("<mac address='00:16:3e:12:34:56'/>") < xml.index("<model type='e1000'/>") \
        < xml.index("<model type='virtio'/>")


def test_network_map_uses_an_existing_network(alice, import_dir, tmp_path):
    _, existing = alice.create("networks", {"name": "mine", "networkTemplate": {
        "networkConfig": {"networkType": "PRIVATE"}}})
    before = alice.get(alice.cep()["networks"]["href"]).json["count"]
    template, _ = run_import(alice, package(import_dir, tmp_path), networkMap={"lan": existing["id"]})
    [nic] = machine_template(alice, template)["networkInterfaces"]
    assert nic["network"]["href"] == existing["id"]
    assert alice.get(alice.cep()["networks"]["href"]).json["count"] == before


def test_network_map_naming_no_package_network_is_400(alice, import_dir, tmp_path):
    ova = package(import_dir, tmp_path)
    before = counts(alice)
    resp = alice.post(import_op(alice), {"action": f"{CIMI}/action/import", "source": str(ova),
                                         "networkMap": {"wan": "x"}})
    assert resp.status_code == 400 and "'wan'" in resp.json["statusMessage"] and "lan" in resp.json["statusMessage"]
    assert counts(alice) == before


def test_unknown_profile_is_400_listing_the_options(alice, import_dir, tmp_path):
    ova = package(import_dir, tmp_path, lambda size: descriptor(size=size, envelope_extra=PROFILES))
    before = counts(alice)
    resp = alice.post(import_op(alice), {"action": f"{CIMI}/action/import", "source": str(ova),
                                         "properties": {"profile": "huge"}})
    assert resp.status_code == 400, resp.text
    assert "'huge'" in resp.json["statusMessage"] and "small, big" in resp.json["statusMessage"]
    assert "CIMI-Job-URI" not in resp.headers
    assert counts(alice) == before
    template, _ = run_import(alice, ova, properties={"profile": "big"})
    assert template["properties"]["ovf:profile"] == "big"


def test_uploaded_package_with_unknown_profile_is_400_and_not_kept(alice, cloud, tmp_path):
    ova = package(tmp_path, tmp_path, lambda size: descriptor(size=size, envelope_extra=PROFILES))
    resp = alice.post(alice.cep()["systemTemplates"]["href"] + "?profile=huge", ova.read_bytes(),
                      headers={"Content-Type": "application/x-tar"})
    assert resp.status_code == 400 and "small, big" in resp.json["statusMessage"]
    assert not list((Path(cloud.config.data_dir) / "uploads").glob("*"))


def test_descriptions_name_the_package_given(alice, import_dir, tmp_path):
    template, _ = run_import(alice, package(import_dir, tmp_path, name="appliance.ova"))
    mt = machine_template(alice, template)
    described = [template, mt, alice.get(mt["machineConfig"]["href"]).json,
                 alice.get(mt["machineImage"]["href"]).json]
    assert all("imported from appliance.ova" in r["description"] for r in described), described


def test_drive_on_a_plain_file_imports(alice, import_dir, tmp_path):
    """VirtualCenter 2009: the disk Item names the File; this failed with "internal error: KeyError"."""
    template, job = run_import(alice, package(import_dir, tmp_path, file_drive_descriptor))
    image = alice.get(machine_template(alice, template)["machineImage"]["href"]).json
    assert image["state"] == "AVAILABLE"
    assert "warning: vm1: Item 4: drive backed by File 'file1' directly" in job["statusMessage"]


def test_vmware_os_id_is_a_warning_in_the_job(alice, import_dir, tmp_path):
    def desc(size):
        return descriptor(size=size).replace(b'<VirtualSystem ovf:id="vm1">', b'''<VirtualSystem ovf:id="vm1">
    <OperatingSystemSection ovf:id="-100"><Info>os</Info></OperatingSystemSection>''')
    _, job = run_import(alice, package(import_dir, tmp_path, desc))
    assert "OperatingSystemSection ovf:id -100" in job["statusMessage"]


def test_a_tenant_imports_only_from_its_own_directory(alice, admin, cloud, tmp_path):
    """<import dir>/<user>/ for a tenant: the admin's files and another user's are not alice's to import."""
    root = Path(cloud.config.import_dir)
    admins = package(root, tmp_path, name="admins.ova")
    bobs = package(user_import_dir(cloud, "bob"), tmp_path, name="bobs.ova")
    before = counts(alice)
    for source in (str(admins), f"file://{admins}", "../admins.ova", str(bobs), "../bob/bobs.ova"):
        resp = alice.post(import_op(alice), {"action": f"{CIMI}/action/import", "source": source})
        assert resp.status_code == 400, (source, resp.text)
        assert str(root) not in resp.text and "your import directory" in resp.json["statusMessage"]
    image = alice.post(alice.cep()["machineImages"]["href"], {"name": "x", "imageLocation": str(admins)})
    assert image.status_code == 400 and str(root) not in image.text
    assert counts(alice) == before
    run_import(admin, admins)                         # the admin reads the whole directory
    run_import(alice, package(user_import_dir(cloud), tmp_path, name="mine.ova"))


def test_a_failed_import_removes_the_networks_it_made(alice, import_dir, tmp_path):
    """The Networks come first; a VirtualSystem refused later takes them away again."""
    def no_memory(size):
        return descriptor(size=size).replace(b"<rasd:ResourceType>4</rasd:ResourceType>",
                                             b"<rasd:ResourceType>1</rasd:ResourceType>")
    ova = package(import_dir, tmp_path, no_memory)
    before = alice.get(alice.cep()["networks"]["href"]).json["count"]
    resp = alice.post(import_op(alice), {"action": f"{CIMI}/action/import", "source": str(ova)})
    job = alice.wait(resp.headers["CIMI-Job-URI"])
    assert job["state"] == "FAILED" and "no CPU or memory" in job["statusMessage"]
    assert alice.get(alice.cep()["networks"]["href"]).json["count"] == before


def test_a_system_from_a_two_disk_package_attaches_the_second_disk(alice, import_dir, tmp_path):
    disk = make_disk(tmp_path)
    desc = descriptor(size=len(disk), extra_files='\n    <File ovf:id="file2" ovf:href="disk2.vmdk"/>').replace(
        b"</DiskSection>", b"""  <Disk ovf:diskId="vmdisk2" ovf:fileRef="file2" ovf:capacity="2097152"/>
  </DiskSection>""").replace(b"</VirtualHardwareSection>", b"""  <Item>
        <rasd:HostResource>ovf:/disk/vmdisk2</rasd:HostResource><rasd:InstanceID>7</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
    </VirtualHardwareSection>""")
    ova = write_ova(import_dir / "two.ova", [("vm.ovf", desc), ("disk.vmdk", disk), ("disk2.vmdk", disk)])
    template, _ = run_import(alice, ova)
    mt = machine_template(alice, template)
    [volume_template] = mt["volumeTemplates"]
    assert volume_template["initialLocation"] == "sdb" and volume_template["volumeConfig"]["capacity"] == 2048
    assert alice.get(volume_template["volumeImage"]["href"]).json["state"] == "AVAILABLE"
    _, system = alice.create("systems", {"name": "two", "systemTemplate": {"href": template["id"]}})
    [link] = alice.get(system["machines"]["href"]).json["systemMachines"]
    machine = alice.get(link["machine"]["href"]).json
    [attached] = alice.get(machine["volumes"]["href"]).json["machineVolumes"]
    assert attached["initialLocation"] == "sdb"
    volume = alice.get(attached["volume"]["href"]).json
    assert volume["capacity"] == 2048 and volume["state"] == "AVAILABLE"


def test_imported_machine_template_xml_validates(alice, import_dir, tmp_path):
    """networkInterfaces with their extension attributes (our namespace), volumeTemplates by value: DSP8009."""
    from lxml import etree

    from tests.api.test_xml_schema import XSD, check
    from tests.conftest import XML
    disk = make_disk(tmp_path)
    desc = nics_descriptor(len(disk)).replace(b"</References>", b'<File ovf:id="file2" ovf:href="disk2.vmdk"/>'
                                              b"</References>").replace(b"</DiskSection>", b"""
    <Disk ovf:diskId="vmdisk2" ovf:fileRef="file2" ovf:capacity="1048576"/></DiskSection>""").replace(
        b"</VirtualHardwareSection>", b"""<Item><rasd:HostResource>ovf:/disk/vmdisk2</rasd:HostResource>
        <rasd:InstanceID>9</rasd:InstanceID><rasd:ResourceType>17</rasd:ResourceType></Item>
    </VirtualHardwareSection>""")
    template, _ = run_import(alice, write_ova(import_dir / "x.ova", [("vm.ovf", desc), ("disk.vmdk", disk),
                                                                       ("disk2.vmdk", disk)]))
    mt = machine_template(alice, template)
    assert mt["volumeTemplates"] and mt["networkInterfaces"][0]["macAddress"]
    doc = check(etree.XMLSchema(etree.parse(str(XSD))), alice.get(mt["id"], accept=XML), "MachineTemplate")
    assert doc.find("{http://schemas.dmtf.org/cimi/1}networkInterface") is not None
