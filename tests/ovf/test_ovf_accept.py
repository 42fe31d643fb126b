"""What real exporters write is accepted, with a warning where the standard says otherwise.

Each descriptor is built here after the exporter it imitates: VMware's OS id
-100, oVirt's namespace-less References/Section/Content with rasd:InstanceId,
VirtualCenter 2009's drive on a plain File, an unqualified configuration.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.ovf.conftest import descriptor, file_drive_descriptor, make_disk, manifest_line, write_ova
from ovf.errors import OVFError
from ovf.hardware import resolve_hardware
from ovf.inspect import inspect, summary
from ovf.reader import read_envelope

ROOT = Path(__file__).resolve().parents[2]

OVIRT = b"""<?xml version='1.0' encoding='UTF-8'?>
<ovf:Envelope xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1/"
  xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
  xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ovf:version="4.1.0.0">
  <References><File ovf:href="disk1" ovf:id="disk1" ovf:size="1048576"/></References>
  <NetworkSection><Info>List of networks</Info><Network ovf:name="ovirtmgmt"/></NetworkSection>
  <Section xsi:type="ovf:DiskSection_Type"><Info>List of Virtual Disks</Info>
    <Disk ovf:diskId="d1" ovf:fileRef="disk1" ovf:size="1" ovf:capacity="1048576"
          ovf:format="http://www.vmware.com/specifications/vmdk.html#sparse"/></Section>
  <Content ovf:id="out" xsi:type="ovf:VirtualSystem_Type">
    <Name>ovirt-vm</Name>
    <Section ovf:id="x" ovf:required="false" xsi:type="ovf:OperatingSystemSection_Type">
      <Info>Guest Operating System</Info><Description>other_linux</Description></Section>
    <Section xsi:type="ovf:VirtualHardwareSection_Type"><Info>1 CPU, 1024 Memory</Info>
      <Item><rasd:Caption>1 virtual cpu</rasd:Caption><rasd:InstanceId>1</rasd:InstanceId>
        <rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>
      <Item><rasd:Caption>1024 MB of memory</rasd:Caption><rasd:InstanceId>2</rasd:InstanceId>
        <rasd:ResourceType>4</rasd:ResourceType><rasd:AllocationUnits>MegaBytes</rasd:AllocationUnits>
        <rasd:VirtualQuantity>1024</rasd:VirtualQuantity></Item>
      <Item><rasd:Caption>disk</rasd:Caption><rasd:InstanceId>d1</rasd:InstanceId>
        <rasd:ResourceType>17</rasd:ResourceType><rasd:HostResource>ovf:/disk/d1</rasd:HostResource></Item>
      <Item><rasd:Caption>Ethernet adapter on ovirtmgmt</rasd:Caption><rasd:InstanceId>n1</rasd:InstanceId>
        <rasd:ResourceType>10</rasd:ResourceType><rasd:ResourceSubType>3</rasd:ResourceSubType>
        <rasd:Connection>ovirtmgmt</rasd:Connection><rasd:Name>nic1</rasd:Name></Item>
    </Section>
  </Content>
</ovf:Envelope>
"""


def test_vmware_os_id_minus_100_accepted_with_warning(tmp_path):
    data = descriptor().replace(b'<VirtualSystem ovf:id="vm1">', b'''<VirtualSystem ovf:id="vm1">
    <OperatingSystemSection ovf:id="-100"><Info>os</Info><Description>other</Description>
    </OperatingSystemSection>''')
    env = read_envelope(data)
    assert env.virtualSystems()[0].osId == -100
    assert any("ovf:id -100" in w and "OSType" in w for w in env.warnings)


def test_ovirt_namespace_less_sections_and_instance_id_read():
    env = read_envelope(OVIRT)
    [vs] = env.virtualSystems()
    hw = resolve_hardware(env, vs, None)
    assert (vs.name, hw.cpus, hw.memoryMiB) == ("ovirt-vm", 1, 1024)
    assert [f.id for f in env.references] == ["disk1"]
    assert [n.network for n in hw.nics] == ["ovirtmgmt"]
    assert [d.diskId for d in hw.disks] == ["d1"]
    assert any("without a namespace" in w for w in env.warnings)
    assert any("InstanceId" in w for w in env.warnings)


def test_unknown_required_section_still_refused_by_name():
    data = descriptor(envelope_extra='<FooSection xmlns="urn:x"><Info>x</Info></FooSection>')
    with pytest.raises(OVFError, match="FooSection.*ovf:required"):
        read_envelope(data)


def test_unqualified_configuration_attribute_selects_items():
    data = descriptor(envelope_extra="""
  <DeploymentOptionSection><Info>p</Info>
    <Configuration ovf:id="small" ovf:default="true"><Label>s</Label><Description>s</Description></Configuration>
    <Configuration ovf:id="big"><Label>b</Label><Description>b</Description></Configuration>
  </DeploymentOptionSection>""").replace(b"""</VirtualHardwareSection>""", b"""
      <Item configuration="big"><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>8</rasd:VirtualQuantity></Item>
    </VirtualHardwareSection>""")
    env = read_envelope(data)
    vs = env.virtualSystems()[0]
    assert resolve_hardware(env, vs, "small").cpus == 2
    assert resolve_hardware(env, vs, "big").cpus == 8


def test_drive_on_a_plain_file_is_described_by_its_bytes(tmp_path):
    disk = make_disk(tmp_path, size="2M")
    desc = file_drive_descriptor(len(disk))
    ova = write_ova(tmp_path / "vc.ova", [("vm.ovf", desc), ("disk.vmdk", disk)])
    facts = inspect(ova)
    assert facts["virtualSystems"][0]["disks"] == [
        {"diskId": None, "capacityBytes": 2 * 2**20, "format": "vmdk-streamOptimized", "fileRef": "file1"}]
    assert any("File 'file1' directly" in w for w in facts["warnings"])


def test_inspect_prints_unknown_never_none(tmp_path):
    desc = tmp_path / "vc.ovf"
    desc.write_bytes(file_drive_descriptor(1234).replace(b"<rasd:VirtualQuantity>512</rasd:VirtualQuantity>", b""))
    proc = subprocess.run([sys.executable, "-m", "ovf", "inspect", str(desc)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "None" not in proc.stdout
    assert "unknown memory" in proc.stdout and "unknown bytes" not in proc.stdout
    assert "disk (logical): unknown, unknown format, file file1" in proc.stdout
    assert "warning: vm1: Item 4: drive backed by File 'file1'" in proc.stdout
    cli = subprocess.run([sys.executable, "-m", "cimiclient.cli", "ovf", "inspect", str(desc)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert "None" not in cli.stdout and "unknown memory" in cli.stdout
    assert summary(inspect(desc)) == proc.stdout.rstrip("\n")


def test_manifest_still_checked_for_file_backed_drive(tmp_path):
    disk = make_disk(tmp_path)
    desc = file_drive_descriptor(len(disk))
    mf = manifest_line("vm.ovf", desc) + manifest_line("disk.vmdk", disk + b"x")
    ova = write_ova(tmp_path / "vc.ova", [("vm.ovf", desc), ("vm.mf", mf.encode()), ("disk.vmdk", disk)])
    with pytest.raises(OVFError, match="disk.vmdk"):
        inspect(ova)
