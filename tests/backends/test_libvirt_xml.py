"""Generated libvirt XML: fixture files, round trips, and libvirt's verdict.

The fixtures in tests/data/libvirt/ make every change of generated XML a
reviewed diff (rewrite them with --regenerate-output); defining the same XML
on a private test-driver node proves libvirt accepts it.
"""
import pytest
from lxml import etree

from backends.libvirt import designer, xml
from backends.libvirt.xml.base import PRESENT, Children, Prop, XMLObject

MiB = 1 << 20

CASES = {
    "domain": lambda: designer.domain(
        "m1", "test", 2, 262144,
        [designer.disk("/default-pool/m1-vda.qcow2", "vda"),
         designer.disk("/default-pool/data.raw", "vdb", "raw"),
         designer.config_drive("/default-pool/m1-cidata.iso", "vdz")],
        [designer.interface("default", "52:54:00:12:34:56"), designer.interface("default")],
        owned=["/default-pool/m1-vda.qcow2", "/default-pool/m1-cidata.iso"]),
    "domain-kvm": lambda: designer.domain(
        "m2", "kvm", 1, 131072, [designer.disk("/default-pool/m2-vda.qcow2", "vda")], [],
        console_dir="/var/tmp/consoles/"),
    # A package's controllers kept (OVF import): IDE boot disk, virtio-scsi and SATA data disks.
    "domain-buses": lambda: designer.domain(
        "m3", "test", 1, 131072,
        [designer.disk("/default-pool/m3-hda.qcow2", "hda"), designer.disk("/default-pool/m3-hdb.qcow2", "hdb"),
         designer.disk("/default-pool/d1.qcow2", "sda"), designer.disk("/default-pool/d2.qcow2", "sdb", bus="sata"),
         designer.config_drive("/default-pool/m3-cidata.iso", "vdz")], []),
    "volume-overlay": lambda: designer.overlay_volume(
        "m1-vda.qcow2", 64 * MiB, "/default-pool/image", "qcow2"),
    "volume-blank": lambda: designer.blank_volume("data.raw", 16 * MiB, "raw"),
    "network-isolated": lambda: designer.network("lan", "isolated"),
    "network-nat": lambda: designer.network("wan", "nat", "192.168.150.0/24"),
    "pool-dir": lambda: xml.StoragePool(type=xml.StoragePool.TYPE_DIR, name="scratch",
                                        target_path="/var/tmp/scratch"),
}


# Requests only a real QEMU driver takes (the test driver has no external snapshots):
# tests/backends/test_libvirtd_capture.py is libvirt's verdict on them.
REQUESTS = {
    "snapshot-capture": lambda: designer.capture_snapshot(
        "cimi-image-1", ["vda", "vdb", "sda"], "vda", "/default-pool/m1-vda.qcow2.cimi-image-1.capture"),
}


@pytest.mark.parametrize("case", sorted(CASES) + sorted(REQUESTS))
def test_generated_xml_matches_fixture(case, compare_xml):
    compare_xml({**CASES, **REQUESTS}[case]().to_xml(), f"{case}.xml")


@pytest.mark.parametrize("case", sorted(CASES) + sorted(REQUESTS))
def test_round_trip_is_exact(case):
    obj = {**CASES, **REQUESTS}[case]()
    assert type(obj).parse(obj.to_xml()).to_xml() == obj.to_xml()


def _define(conn, case, text):
    """Hand the XML to libvirt the way the backend would; return the object."""
    if case.startswith("domain"):
        dom = conn.defineXML(text)
        dom.create()                 # the test driver runs what it accepts
        return dom
    if case.startswith("volume"):
        return conn.storagePoolLookupByName("default-pool").createXML(text, 0)
    if case.startswith("network"):
        net = conn.networkDefineXML(text)
        net.create()
        return net
    pool = conn.storagePoolDefineXML(text)
    return pool


@pytest.mark.parametrize("case", sorted(CASES))
def test_libvirt_accepts_generated_xml(case, conn):
    obj = CASES[case]()
    defined = _define(conn, case, obj.to_xml())
    echoed = type(obj).parse(defined.XMLDesc(0))
    for name in type(obj).fields():
        if isinstance(getattr(type(obj), name), Prop) and getattr(obj, name) is not None:
            assert getattr(echoed, name) == getattr(obj, name), f"libvirt changed {name}"


def _parsed_from_libvirt(conn):
    """Objects parsed from what libvirt itself writes, per config class."""
    for case in CASES:
        obj = CASES[case]()
        yield type(obj).parse(_define(conn, case, obj.to_xml()).XMLDesc(0))
    yield xml.Capabilities.parse(conn.getCapabilities())


def _props_set(objects):
    seen = set()
    for obj in objects:
        for name, field in type(obj).fields().items():
            value = getattr(obj, name)
            if isinstance(field, Children):
                seen |= _props_set(value)
            if value not in ([], None) and value is not False:
                seen.add((type(obj).__name__, name))
    return seen


def test_every_declared_property_is_exercised(conn):
    """A property no fixture or libvirt echo ever fills is dead weight or a typo."""
    classes = [xml.Domain, xml.Disk, xml.Interface, xml.Ownership, xml.OwnedVolume,
               xml.Serial, xml.Console, xml.Graphics,
               xml.StoragePool, xml.StorageVolume, xml.Network, xml.Capabilities,
               xml.capabilities.Guest, xml.capabilities.GuestDomain, xml.DomainSnapshot, xml.SnapshotDisk]
    declared = {(c.__name__, n) for c in classes for n in c.fields()}
    seen = (_props_set([c() for c in {**CASES, **REQUESTS}.values()])
            | _props_set(_parsed_from_libvirt(conn)))
    assert declared - seen == set()


def test_unknown_property_is_a_programming_error():
    with pytest.raises(xml.DevError):
        xml.Disk(no_such_property="x")
    with pytest.raises(xml.DevError):
        Prop("a/@b", kind=float)


class _Sample(XMLObject):
    """A throwaway element exercising every property kind of the mechanism."""
    TAG = "sample"
    count = Prop("count", int)
    enabled = Prop("@enabled", "yesno")
    power = Prop("power/@state", "onoff")
    flag = Prop("features/flag", PRESENT)


@pytest.mark.parametrize("values,text", [
    (dict(count=3, enabled=True, power=False, flag=True),
     '<sample enabled="yes"><count>3</count><power state="off"/><features><flag/></features></sample>'),
    (dict(enabled=False, power=True, flag=False),
     '<sample enabled="no"><power state="on"/></sample>'),
])
def test_typed_properties_round_trip(values, text):
    obj = _Sample(**values)
    assert etree.tostring(obj.to_element(), encoding="unicode") == text
    parsed = _Sample.parse(text)
    assert {k: getattr(parsed, k) for k in values} == values
