"""Hostile descriptors: entities, DOCTYPE, size, malformed XML, versions."""

import pytest

from tests.ovf.conftest import descriptor
from ovf.errors import OVFError
from ovf.reader import read_envelope
from ovf.xmlsafe import MAX_DESCRIPTOR_BYTES, parse_descriptor

ENV1 = "http://schemas.dmtf.org/ovf/envelope/1"


def test_xxe_external_entity_refused(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("TOPSECRET")
    data = (f'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file://{secret}">]>'
            f'<Envelope xmlns="{ENV1}"><Name>&x;</Name></Envelope>').encode()
    with pytest.raises(OVFError, match="DOCTYPE") as err:
        parse_descriptor(data)
    assert "TOPSECRET" not in err.value.reason


def test_billion_laughs_refused():
    lol = "".join(f'<!ENTITY l{i} "{"&l%d;" % (i - 1) * 10}">' for i in range(1, 10))
    data = (f'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY l0 "lol">{lol}]>'
            f'<Envelope xmlns="{ENV1}">&l9;</Envelope>').encode()
    with pytest.raises(OVFError, match="DOCTYPE"):
        parse_descriptor(data)


def test_plain_doctype_refused():
    with pytest.raises(OVFError, match="DOCTYPE"):
        parse_descriptor(f'<!DOCTYPE Envelope><Envelope xmlns="{ENV1}"/>'.encode())


def test_doctype_hidden_in_utf16_refused():
    text = f'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE e><Envelope xmlns="{ENV1}"/>'
    with pytest.raises(OVFError, match="DOCTYPE"):
        parse_descriptor(text.encode("utf-16"))


def test_oversize_descriptor_refused():
    data = descriptor().replace(b"<Info>vm</Info>",
                                b"<Info>" + b"x" * MAX_DESCRIPTOR_BYTES + b"</Info>")
    with pytest.raises(OVFError, match="allowed"):
        read_envelope(data)


def test_not_ovf_namespace_refused():
    with pytest.raises(OVFError, match="not an OVF envelope"):
        read_envelope(descriptor(ns="http://example.com/not-ovf"))


def test_unknown_required_section_refused_optional_skipped():
    bad = descriptor(envelope_extra='<x:Secret xmlns:x="urn:x"><Info/></x:Secret>')
    with pytest.raises(OVFError, match="unknown required section 'Secret'"):
        read_envelope(bad)
    ok = descriptor(envelope_extra=f'<x:Secret xmlns:x="urn:x" xmlns:o="{ENV1}" '
                                   f'o:required="false"/>')
    assert read_envelope(ok).virtualSystems()[0].id == "vm1"


OVF09 = b"""<?xml version="1.0"?>
<Envelope xmlns="http://www.vmware.com/schema/ovf/1/envelope"
  xmlns:ovf="http://www.vmware.com/schema/ovf/1/envelope"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
  <References><File ovf:id="file1" ovf:href="d.vmdk" ovf:size="10"/></References>
  <Section xsi:type="ovf:DiskSection_Type"><Info>disks</Info>
    <Disk ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:capacity="2"
      ovf:capacityAllocationUnits="byte * 2^30"
      ovf:format="http://www.vmware.com/specifications/vmdk.html#sparse"/>
  </Section>
  <Section xsi:type="ovf:NetworkSection_Type"><Info>n</Info><Network ovf:name="VM Network"/></Section>
  <Content xsi:type="ovf:VirtualSystem_Type" ovf:id="old">
    <Info>vm</Info>
    <Section xsi:type="ovf:VirtualHardwareSection_Type"><Info>hw</Info>
      <Item><rasd:InstanceId>1</rasd:InstanceId><rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>
      <Item><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType>
        <rasd:AllocationUnits>MegaBytes</rasd:AllocationUnits>
        <rasd:VirtualQuantity>256</rasd:VirtualQuantity></Item>
      <Item><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceType>17</rasd:ResourceType>
        <rasd:HostResource>/disk/vmdisk1</rasd:HostResource></Item>
    </Section>
  </Content>
</Envelope>"""


def test_ovf_0_9_typed_sections_read():
    from ovf.hardware import resolve_hardware
    env = read_envelope(OVF09.replace(b"InstanceId", b"InstanceID"))
    assert env.ovfVersion == "0.9"
    vs = env.virtualSystems()[0]
    hw = resolve_hardware(env, vs, None)
    assert (vs.id, hw.cpus, hw.memoryMiB) == ("old", 1, 256)
    assert [(d.capacityBytes, d.format) for d in hw.disks] == [
        (2 * 2**30, "vmdk-monolithicSparse")]


def test_ovirt_trailing_slash_dialect_read():
    data = OVF09.replace(b"InstanceId", b"InstanceID").replace(
        b"http://www.vmware.com/schema/ovf/1/envelope",
        b"http://schemas.dmtf.org/ovf/envelope/1/")
    env = read_envelope(data)
    assert env.ovfVersion == "1.x" and env.disks[0].diskId == "vmdisk1"


def test_ovf09_instance_id_spelling_accepted():
    """OVF 0.9 spells rasd:InstanceId; read as InstanceID, nothing lost (warned outside 0.9)."""
    env = read_envelope(OVF09)
    assert [i.instanceID for i in env.virtualSystems()[0].items][:2] == ["1", "2"]
    assert env.warnings == []
    ovirt = read_envelope(OVF09.replace(b"http://www.vmware.com/schema/ovf/1/envelope",
                                        b"http://schemas.dmtf.org/ovf/envelope/1/"))
    assert any("rasd:InstanceId" in w for w in ovirt.warnings)


def test_item_without_instance_id_refused():
    with pytest.raises(OVFError, match="InstanceID"):
        read_envelope(OVF09.replace(b"InstanceId", b"Caption"))
