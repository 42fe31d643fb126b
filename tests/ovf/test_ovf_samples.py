"""Every fact the samples README states, checked on the real descriptors.

The table mirrors tests/data/ovf/README.md: one row per sample, one key per
stated fact. Memory is MiB, capacity is bytes after capacityAllocationUnits.
"""

import pytest

from tests.ovf.conftest import sample
from ovf.checks import check_envelope
from ovf.errors import OVFError
from ovf.hardware import resolve_hardware
from ovf.reader import read_envelope

SO = "vmdk-streamOptimized"


def load(name):
    return read_envelope(sample(name).read_bytes())


def facts(env, vs, profile):
    hw = resolve_hardware(env, vs, profile)
    return {
        "cpus": hw.cpus, "memoryMiB": hw.memoryMiB,
        "disks": [(d.diskId, d.capacityBytes, d.format, d.fileRef) for d in hw.disks],
        "nics": [n.network for n in hw.nics],
    }


# (sample, ovfVersion, [(vs id, name, os id, cpus, MiB, disks, nics)], profiles, default)
SAMPLES = [
    ("cot__vmware-style-cot-edited__input.ovf", "1.x",
     [("test", "test", 100, 4, 4096, [("vmdisk1", 1073741824, SO, "file1")],
       ["VM Network"] * 3)],
     ["1CPU-1GB-1NIC", "2CPU-2GB-1NIC", "4CPU-4GB-3NIC"], "4CPU-4GB-3NIC"),
    ("cot__cisco-appliance__csr1000v.ovf", "1.x",
     [("com.cisco.csr1000v", "Cisco CSR 1000V Cloud Services Router", 100, 1, 4096,
       [("vmdisk1", 1073741824, SO, "file1")],
       ["GigabitEthernet1", "GigabitEthernet2", "GigabitEthernet3"])],
     ["1CPU-4GB", "2CPU-4GB", "4CPU-4GB", "4CPU-8GB"], "1CPU-4GB"),
    ("cot__virtualbox-ovf2.0__ubuntu.2.0.ovf", "2.x",
     [("ubuntu", None, 94, 1, 512, [("vmdisk1", 8589934592, SO, "file1")], ["NAT"])],
     [], None),
    ("cot__vmware-vsphere__vmware.ovf", "1.x",
     [("vmw", "vmw", 80, 2, 1536, [("vmdisk1", 1073741824, SO, "file1")],
       ["lanethernet0"] * 4)],
     [], None),
    ("virt-v2v__vmware-vsphere55__test-i-ova.ovf", "1.x",
     [("TestOva", "TestOva", 74, 1, 2048, [("vmdisk1", 34359738368, SO, "file1")],
       ["VM Network"])],
     [], None),
    ("virt-v2v__vmware-two-disks__test-i-ova-two-disks.ovf", "1.x",
     [("2K8R2EESP1_2_Medium", "2K8R2EESP1_2_Medium", 103, 1, 1024,
       [("vmdisk1", 53687091200, SO, "file1"), ("vmdisk2", 483183820800, SO, "file2")],
       ["PG-VLAN60"])],
     [], None),
    ("virt-manager__virtualbox4__CentOS-6.4-i386-Gnome.ovf", "1.x",
     [("CentOS-6.4-i386-Gnome", None, 79, 1, 512,
       [("vmdisk1", 19327352832, SO, "file1")], ["NAT"])],
     [], None),
    ("govmomi__vmware-ovftool35-vsc__vApp_with_2vms.ovf", "1.x",
     [("sql2k5-win-2k3-32-ent-sp2-ovf", "sql2k5-win-2k3-32-ent-sp2-ovf", 69, 1, 1024,
       [("vmdisk-1e592958-26a9-4099-ba4f-ccdd6ad36335-2000", 10737418240, SO,
         "file-1e592958-26a9-4099-ba4f-ccdd6ad36335-2000")], ["Private"]),
      ("centos-5.5-32-esx-qa", "centos-5.5-32-esx-qa", 36, 1, 256,
       [("vmdisk-8d158857-e2a0-4082-93bd-a2d154fd9a1d-2000", 4294967296, SO,
         "file-8d158857-e2a0-4082-93bd-a2d154fd9a1d-2000")], ["none"])],
     [], None),
    ("govmomi__dsp0243-2.1.1-example3-ovf2.0__virtualsystemcollection.ovf", "2.x",
     [("storage server", "Virtual Appliance One", 58, 1, 1024,
       [(None, 1073741824, None, None)], ["VS Network"]),
      ("web-server", "Virtual Appliance Two", 58, 1, 1024,
       [(None, 1073741824, None, None)], ["VS Network"])],
     [], None),
]


@pytest.mark.parametrize("name,version,systems,profiles,default", SAMPLES,
                         ids=[s[0].split("__")[0] + "-" + s[0].split("__")[2] for s in SAMPLES])
def test_sample_facts(name, version, systems, profiles, default):
    env = load(name)
    check_envelope(env)
    assert env.ovfVersion == version
    assert [c.id for c in env.configurations] == profiles
    assert env.defaultProfile == default
    got = env.virtualSystems()
    assert [vs.id for vs in got] == [s[0] for s in systems]
    for vs, (vs_id, vs_name, os_id, cpus, mib, disks, nics) in zip(got, systems):
        assert (vs.name, vs.osId) == (vs_name, os_id)
        assert facts(env, vs, default) == {"cpus": cpus, "memoryMiB": mib,
                                           "disks": disks, "nics": nics}


@pytest.mark.parametrize("profile,cpus,mib,nics", [
    ("1CPU-1GB-1NIC", 1, 1024, 1), ("2CPU-2GB-1NIC", 2, 2048, 1),
    ("4CPU-4GB-3NIC", 4, 4096, 3)])
def test_cot_input_profiles(profile, cpus, mib, nics):
    env = load("cot__vmware-style-cot-edited__input.ovf")
    f = facts(env, env.virtualSystems()[0], profile)
    assert (f["cpus"], f["memoryMiB"], len(f["nics"])) == (cpus, mib, nics)


def test_cot_input_details():
    env = load("cot__vmware-style-cot-edited__input.ovf")
    vs = env.virtualSystems()[0]
    hw = resolve_hardware(env, vs, env.defaultProfile)
    assert vs.osType == "other26xLinux64Guest"
    assert env.file("file1").size == 152576 and env.file("file1").href == "input.vmdk"
    assert env.file("file2").href == "input.iso" and env.file("file2").size == 360448
    assert [c.fileRef for c in hw.cdroms] == ["file2", None]
    assert [(c.resourceType, c.subType) for c in hw.controllers][0] == (6, "lsilogic")
    assert [n.subType for n in hw.nics] == ["VMXNET3"] * 3
    assert vs.transport == ("iso",)
    product = vs.productSections[0]
    assert (product.product, product.vendor, product.version) == ("PRODUCT", "VENDOR", "DEV")
    props = {p.key: p for p in vs.properties}
    assert list(props) == [
        "login-username", "login-password", "mgmt-ipv4-addr", "mgmt-ipv4-gateway",
        "hostname", "enable-ssh-server", "enable-http-server", "enable-https-server",
        "privilege-password", "domain-name"]
    assert {k for k, p in props.items() if p.password} == {"login-password",
                                                          "privilege-password"}
    for key in ("enable-ssh-server", "enable-http-server", "enable-https-server"):
        assert (props[key].type, props[key].default) == ("boolean", "false")
    assert all(p.userConfigurable for p in props.values())
    assert all(p.qualifiers.startswith("MaxLen(") for p in props.values()
               if p.type == "string")


CSR_PROPERTIES = [
    ("config-version", "1.0"), ("hostname", ""), ("login-username", ""),
    ("login-password", ""), ("mgmt-interface", "GigabitEthernet1"), ("mgmt-vlan", ""),
    ("mgmt-ipv4-addr", ""), ("mgmt-ipv4-gateway", ""), ("mgmt-ipv4-network", ""),
    ("pnsc-ipv4-addr", ""), ("pnsc-agent-local-port", ""), ("pnsc-shared-secret-key", ""),
    ("remote-mgmt-ipv4-addr", ""), ("enable-scp-server", "false"),
    ("enable-ssh-server", "false"), ("privilege-password", ""), ("domain-name", ""),
    ("license", "ax"), ("console", ""), ("resource-template", "default"), ("Mode", ""),
    ("MGMT_KEY", ""), ("CONTROL_PORT", ""), ("TUNNEL_PORT", ""),
    ("ic-tunnel-header-size", "148"), ("ic-tunnel-ipv4-addr", ""),
    ("ic-tunnel-ipv4-gateway", "")]


def test_csr1000v_details():
    env = load("cot__cisco-appliance__csr1000v.ovf")
    vs = env.virtualSystems()[0]
    big = facts(env, vs, "4CPU-8GB")
    assert (big["cpus"], big["memoryMiB"]) == (4, 8192)
    assert env.disk("vmdisk1").populatedSize == 293011456
    assert env.file("csr1000v.iso").href == "input.iso"
    assert "Cisco:Internal:VMCloud-01" in vs.systemTypes
    assert vs.transport == ("iso",)
    props = vs.properties
    assert [(p.key, p.default or "") for p in props] == CSR_PROPERTIES
    assert len({p.category for p in props} - {None}) == 4
    assert {p.key for p in props if p.password} == {
        "login-password", "pnsc-shared-secret-key", "privilege-password", "MGMT_KEY"}
    assert not props[0].userConfigurable
    assert {p.type for p in props if p.key.startswith("enable-")} == {"boolean"}
    product = vs.productSections[0]
    assert (product.productClass, product.instance) == ("com.cisco.csr1000v", "1")
    assert (product.product, product.vendor, product.version) == (
        "Cisco CSR 1000V Cloud Services Router", "Cisco Systems, Inc.",
        "03.17.01.S.156-1.S1-std")
    assert props[1].environmentKey == "com.cisco.csr1000v.hostname.1"
    hw = resolve_hardware(env, vs, env.defaultProfile)
    assert hw.nics[0].subType == "VMXNET3 virtio"
    assert [c.fileRef for c in hw.cdroms][0] == "csr1000v.iso"
    serial = [i for i in vs.items if i.resourceType == 21]
    assert len(serial) == 2 and not any(i.required for i in serial)


def test_virtualbox_2_0_details():
    env = load("cot__virtualbox-ovf2.0__ubuntu.2.0.ovf")
    vs = env.virtualSystems()[0]
    hw = resolve_hardware(env, vs, None)
    assert vs.osDescription == "Ubuntu_64" and vs.systemTypes == ("virtualbox-2.2",)
    assert env.file("file1").size is None
    assert {(c.resourceType, c.subType) for c in hw.controllers} >= {(20, "AHCI")}
    assert hw.disks[0].controller == "5"
    assert [n.subType for n in hw.nics] == ["E1000"]
    assert [c.fileRef for c in hw.cdroms] == [None]
    assert {i.resourceType for i in vs.items} >= {23, 35}
    assert vs.properties == []


def test_vsphere_details():
    env = load("cot__vmware-vsphere__vmware.ovf")
    vs = env.virtualSystems()[0]
    hw = resolve_hardware(env, vs, None)
    assert (hw.cpus, hw.coresPerSocket) == (2, 2)
    assert vs.osType == "rhel6_64Guest"
    assert env.disk("vmdisk1").populatedSize == 293011456
    assert [n.subType for n in hw.nics] == ["E1000"] * 4
    [prop] = vs.properties
    assert (prop.key, prop.default, prop.type, prop.userConfigurable) == (
        "custom-property", "custom-value", "string", False)
    assert vs.productSections[0].product is None


def test_virt_v2v_details():
    env = load("virt-v2v__vmware-vsphere55__test-i-ova.ovf")
    vs = env.virtualSystems()[0]
    hw = resolve_hardware(env, vs, None)
    assert vs.osType == "windows7_64Guest"
    assert env.file("file1").href == "test-ova.vmdk" and env.file("file1").size == 349405696
    assert env.disk("vmdisk1").populatedSize == 1008926720
    assert hw.controllers[0].subType == "lsilogicsas"
    assert [n.subType for n in hw.nics] == ["E1000"]
    assert [c.fileRef for c in hw.cdroms] == [None]
    assert any(i.resourceType == 14 for i in vs.items)
    two = load("virt-v2v__vmware-two-disks__test-i-ova-two-disks.ovf")
    assert [(f.href, f.size) for f in two.references] == [
        ("disk1.vmdk", 7804077568), ("disk2.vmdk", 178523318784)]
    hw2 = resolve_hardware(two, two.virtualSystems()[0], None)
    assert {d.controller for d in hw2.disks} == {hw2.controllers[0].instanceID}


def test_centos_virtualbox4_details():
    env = load("virt-manager__virtualbox4__CentOS-6.4-i386-Gnome.ovf")
    vs = env.virtualSystems()[0]
    hw = resolve_hardware(env, vs, None)
    assert vs.osDescription == "RedHat"
    assert env.file("file1").href == "CentOS-6.4-i386-Gnome-disk1.vmdk"
    assert env.file("file1").size is None
    assert (20, "AHCI") in {(c.resourceType, c.subType) for c in hw.controllers}
    assert hw.nics[0].name == "Ethernet adapter on 'NAT'"
    assert [i.resourceSubType for i in vs.items if i.resourceType == 35] == ["ensoniq1371"]
    assert vs.properties == []


def test_vapp_collection_details():
    env = load("govmomi__vmware-ovftool35-vsc__vApp_with_2vms.ovf")
    assert env.content.id == "sql2k5-win-2k3-32-ent-sp2-ovf"
    assert [(f.href, f.size) for f in env.references] == [
        ("vApp_with_2vms-disk1.vmdk", 1224347136), ("vApp_with_2vms-disk2.vmdk", 2954143744)]
    assert [n.name for n in env.networks] == ["Private", "none"]
    assert [o for _, o in env.content.startupOrder] == [0, 0]
    first, second = env.virtualSystems()
    assert resolve_hardware(env, first, None).nics[0].subType == "PCNet32"
    assert resolve_hardware(env, second, None).nics[0].subType == "E1000"
    assert (first.systemTypes, second.systemTypes) == (("vmx-04",), ("vmx-08",))
    assert first.properties == [] and second.properties == []


def test_dsp0243_example3_details():
    env = load("govmomi__dsp0243-2.1.1-example3-ovf2.0__virtualsystemcollection.ovf")
    assert env.content.id == "vsc1"
    assert env.disk("vmdisk1").capacityBytes == 4294967296
    assert env.file("file1").size == 2000000000
    first, second = env.virtualSystems()
    for vs in (first, second):
        assert vs.eulas == ["Insert your favorite license here"]
        product = vs.productSections[0]
        assert (product.product, product.vendor, product.version) == (
            "The Great Appliance", "Some Great Corporation", "13.00")
        props = {p.key: p for p in vs.properties}
        assert list(props) == ["adminemail", "app_ip"]
        assert props["adminemail"].default is None
        assert props["app_ip"].default == "192.168.0.10"
    assert [p.userConfigurable for p in first.properties] == [False, True]
    assert [p.userConfigurable for p in second.properties] == [False, False]
    # No Item uses the DiskSection disk: the VM disks are logical StorageItems.
    assert all(d.diskId is None for d in resolve_hardware(env, first, None).disks)


def test_invalid_ovf_facts_then_refusal():
    env = load("cot__malformed-refs__invalid.ovf")
    assert env.defaultProfile == "myprofile"
    vs = env.virtualSystems()[0]
    f = facts(env, vs, "myprofile")
    assert (vs.id, f["cpus"], f["memoryMiB"]) == ("x", 3, None)
    assert f["nics"] == ["This is a rather verbose network name, eh what?"]
    assert vs.productSections[0].productClass == "net.e-dad"
    props = {p.key: p for p in vs.properties}
    assert props["jabberwock"].default == "supercalifragilisticexpialidocious"
    assert props["jabberwock"].qualifiers == "MinLen(27)"
    assert props["frobozz-is-a-magic-word-I-think"].default == "xyzzy"
    assert len(vs.transport) == 3
    with pytest.raises(OVFError) as err:
        check_envelope(env)
    for dangling in ("flash2", "nonexistent.vmdk", "'27'"):
        assert dangling in err.value.reason


def test_illegal_xml_refused():
    with pytest.raises(OVFError, match="not well-formed XML"):
        load("glance__malformed-xml__illegal-xml.ovf")
