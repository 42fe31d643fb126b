"""A real guest boots on the real libvirtd and sees what the backend gave it.

At the backend level (no API): the guest disk from `guest_image` is uploaded,
booted under TCG on a fresh NAT network with a config drive, and its serial
console must show our user-data, SSH key and hostname, and the DHCP address
that libvirt's network lists as its lease.
"""
import time
import uuid

import libvirt
import pytest
from lxml import etree

from backends import BackendError, model
from backends.libvirt import LibvirtBackend
from tests.guest import random_cidr
from tests.guest.cloudinit import meta_value, user_data_text
from tests.guest.console import SerialConsole, ensure_serial, section, section_pattern, wait_for

pytestmark = pytest.mark.libvirtd
BOOT_TIMEOUT = 180           # seconds; 20-50 s measured under TCG on two busy cores
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGd1ZXN0LXRlc3Qta2V5LW5vdC1yZWFsLXh4eHh4eHg guest@dsc-test"


def start_nat_network(backend, name, made, tries=5):
    """Create and start a NAT network on a random free /24; return its NetworkInfo."""
    for _ in range(tries):
        net = backend.create_network(model.NetworkSpec(name, "nat", random_cidr()))
        made.append(("network", net.key))
        try:
            return backend.start_network(net.key)
        except BackendError:           # NOTE: the CIDR is in use on this host: try another
            made.pop()
            backend.delete_network(net.key)
    raise AssertionError(f"no free CIDR for a NAT network after {tries} tries")


def lease_of(backend, network_key, ip, timeout=10):
    """The (mac, ip) of the network's leases, once one for ip shows (or the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        leases = [(mac, addr) for mac, addr, _hostname in backend.network_leases(network_key)]
        if ip in [addr for _mac, addr in leases] or time.monotonic() > deadline:
            return leases
        time.sleep(0.2)


def disk_buses(uri, domain_uuid):
    """The buses of a running domain's disks, from its live XML."""
    conn = libvirt.open(uri)
    try:
        live = etree.fromstring(conn.lookupByUUIDString(domain_uuid).XMLDesc(0))
    finally:
        conn.close()
    return live.xpath("devices/disk/target/@bus")


@pytest.fixture
def backend(libvirtd, libvirtd_pool):
    """A LibvirtBackend on qemu:///system under TCG, and what to delete after."""
    pool, _blank = libvirtd_pool
    b = LibvirtBackend(libvirtd, image_pool=pool, volume_pool=pool, domain_type="qemu")
    made = []
    yield b, made
    for kind, key in reversed(made):
        getattr(b, f"delete_{kind}")(key)
    b.close()


@pytest.mark.parametrize("guest_image", ["generic", "cloud"],
                         indirect=True)
def test_guest_reads_its_config_drive_and_gets_a_lease(backend, libvirtd, guest_image, capsys):
    b, made = backend
    name = f"dsc-guest-{uuid.uuid4().hex[:8]}"
    marker = f"dsc-marker-{uuid.uuid4().hex}"
    image = b.create_image(f"{name}-image", 0, guest_image, "qcow2")
    made.append(("image", image.key))
    net = start_nat_network(b, f"{name}-net", made)
    machine = b.create_machine(model.MachineSpec(
        name, 1, 256 * 1024, disks=[model.DiskSpec(0, image.key)], nics=[model.NicSpec(net.key)],
        user_data=f"#cloud-config\n# {marker}\n".encode(), users=[model.GuestUser(ssh_keys=[KEY])]))
    made.append(("machine", machine.key))
    ensure_serial(libvirtd, machine.key)

    began = time.monotonic()
    assert b.start_machine(machine.key).state == model.STARTED
    with SerialConsole(libvirtd, machine.key) as console:
        user_data = wait_for(console.text, section_pattern("user-data") + "|NOT FOUND", BOOT_TIMEOUT)
        user_data_seen = time.monotonic() - began
        dhcp = wait_for(console.text, section_pattern("dhcp"), BOOT_TIMEOUT)
        dhcp_seen = time.monotonic() - began
        text = console.text()
    with capsys.disabled():
        print(f"\n[guest {guest_image.rsplit('/', 1)[-1]}] user-data on the console after {user_data_seen:.1f} s, "
              f"DHCP address after {dhcp_seen:.1f} s; console:\n{text}")
    assert user_data and dhcp, f"no user-data or DHCP address on the console:\n{text}"

    ip = dhcp.group(1).strip()
    mac = b.machine(machine.key).nics[0].mac
    assert (mac, ip) in lease_of(b, net.key, ip)

    assert section(text, "cidata") != "NOT FOUND", (
        f"the guest saw {section(text, 'block-devices')!r}; the config drive is on {disk_buses(libvirtd, machine.key)}")
    user_data, meta = user_data_text(section(text, "user-data")), section(text, "meta-data")
    assert marker in user_data
    assert KEY in meta + user_data
    assert meta_value(meta, "local-hostname") == name
