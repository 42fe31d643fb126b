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


@pytest.mark.parametrize("offered,expected", [
    (["qemu", "kvm"], "kvm"),          # KVM whenever the host offers it
    (["qemu"], "qemu"),
    (["test"], "test"),
    (["xen"], "xen"),
])
def test_domain_type_prefers_kvm(offered, expected):
    assert designer.domain_type(offered) == expected


def test_domain_type_needs_an_offer():
    with pytest.raises(ValueError):
        designer.domain_type([])


@pytest.mark.parametrize("cidr,gateway,start,end", [
    ("192.168.150.0/24", "192.168.150.1", "192.168.150.2", "192.168.150.254"),
    ("10.0.0.0/30", "10.0.0.1", "10.0.0.2", "10.0.0.2"),
    ("10.0.0.7/29", "10.0.0.1", "10.0.0.2", "10.0.0.6"),   # host bits are ignored
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
