"""Policy choices: disk targets, domain type, network addressing."""
import pytest

from backends.libvirt import designer, xml


@pytest.mark.parametrize("count,wanted,used,expected", [
    (2, [], [], ["vda", "vdb"]),
    (3, ["vdb"], [], ["vdb", "vda", "vdc"]),          # a wanted name is never reused
    (1, [], ["vda", "vdb"], ["vdc"]),                 # attach after existing disks
    (2, [None, "vdz"], ["vda"], ["vdb", "vdz"]),
])
def test_disk_targets(count, wanted, used, expected):
    assert designer.disk_targets(count, wanted, used) == expected


@pytest.mark.parametrize("buses,used,expected", [
    (["ide", "ide", "scsi", None], [], ["hda", "hdb", "sda", "vda"]),     # each bus names its own disks
    (["sata", "scsi"], ["sda"], ["sdb", "sdc"]),                         # SATA and SCSI share the sd names
    (["ide"], ["hda", "hdb", "hdc"], ["hdd"]),
])
def test_disk_targets_follow_the_bus(buses, used, expected):
    assert designer.disk_targets(len(buses), used=used, buses=buses) == expected


def test_ide_holds_four_disks():
    with pytest.raises(ValueError, match="ide bus"):
        designer.disk_targets(1, used=["hda", "hdb", "hdc", "hdd"], buses=["ide"])


@pytest.mark.parametrize("target,bus,expected", [
    ("hdb", None, "ide"), ("sdc", None, "scsi"), ("vdb", None, "virtio"), ("xvdf", None, "virtio"),
    ("sdb", "sata", "sata"),
])
def test_the_bus_follows_the_target_unless_given(target, bus, expected):
    disk = designer.disk("/p/d.qcow2", target, bus=bus)
    assert disk.target_bus == expected
    assert [c.model for c in designer.controllers([disk])] == (["virtio-scsi"] if expected == "scsi" else [])


@pytest.mark.parametrize("offered,expected", [
    (["qemu", "kvm"], "kvm"),          # KVM whenever the host offers it
    (["qemu"], "qemu"),
    (["test"], "test"),
    (["xen"], "xen"),
])
def test_domain_type_prefers_kvm(offered, expected):
    assert designer.domain_type(offered) == expected


@pytest.mark.parametrize("kind,cpu", [
    ("kvm", {"cpu_mode": "host-model", "cpu_match": None, "cpu_model": None}),
    # TCG: a named model with SSE4.2 and POPCNT (x86-64-v2), never libvirt's default qemu64
    ("qemu", {"cpu_mode": "custom", "cpu_match": "exact", "cpu_model": "Nehalem"}),
])
def test_cpu_model_follows_the_domain_type(kind, cpu):
    dom = designer.domain("m", kind, 1, 65536, [], [])
    assert {k: getattr(dom, k) for k in cpu} == cpu


@pytest.mark.parametrize("used,expected", [([], "vdz"), (["vda", "vdz"], "vdy")])
def test_config_drive_takes_the_last_free_target(used, expected):
    assert designer.config_drive_target(used) == expected
    assert designer.disk_targets(1, used=[*used, expected]) == ["vdb" if "vda" in used else "vda"]


def test_console_logs_and_vnc_on_loopback():
    dom = designer.domain("m", "qemu", 1, 65536, [], [], console_dir="/srv/consoles/")
    assert [s.log_file for s in dom.serials] == ["/srv/consoles/m-console.log"] and dom.serials[0].log_append
    assert designer.domain("m", "qemu", 1, 65536, [], []).serials[0].log_file == \
        "/var/log/libvirt/qemu/m-console.log"
    assert [(c.target_type, c.target_port) for c in dom.consoles] == [("serial", 0)]
    assert [(g.type, g.listen, g.listen_address) for g in dom.graphics] == [("vnc", "127.0.0.1", "127.0.0.1")]


def test_domain_type_needs_an_offer():
    with pytest.raises(ValueError):
        designer.domain_type([])


@pytest.mark.parametrize("cidr,gateway,start,end", [
    ("192.168.150.0/24", "192.168.150.1", "192.168.150.2", "192.168.150.254"),
    ("10.0.0.0/30", "10.0.0.1", "10.0.0.2", "10.0.0.2"),
    ("10.0.0.7/29", "10.0.0.1", "10.0.0.2", "10.0.0.6"),   # host bits are ignored
    ("10.0.0.0/8", "10.0.0.1", "10.0.0.2", "10.255.255.254"),
])
def test_network_addressing(cidr, gateway, start, end):
    net = designer.network("n", "nat", cidr)
    assert (net.ip_address, net.dhcp_start, net.dhcp_end) == (gateway, start, end)
    parsed = xml.Network.parse(net.to_xml())
    assert designer.network_mode(parsed) == "nat"
    assert designer.network_cidr(parsed) == str(__import__("ipaddress").ip_network(cidr, strict=False))


@pytest.mark.parametrize("mode,cidr", [("bridged", None), ("nat", "10.0.0.0/31"),
                                       ("nat", "fd00::/64")])
def test_network_refuses_what_it_cannot_build(mode, cidr):
    with pytest.raises(ValueError):
        designer.network("n", mode, cidr)


def test_isolated_network_has_no_forward_and_no_address():
    net = designer.network("n", "isolated")
    assert net.forward_mode is None and designer.network_cidr(net) is None
    assert designer.network_mode(net) == "isolated"


def test_overlay_reads_through_its_image():
    vol = designer.overlay_volume("o", 1, "/pool/image", "raw")
    assert (vol.target_format, vol.backing_path, vol.backing_format) == ("qcow2", "/pool/image", "raw")
