"""Policy: every choice about what the libvirt XML of a Machine contains.

The config classes in `backends.libvirt.xml` only describe elements; this
module decides (after nova's `designer.py`) which bus, cache mode, disk
format, target names and network layout this cloud uses, so a policy change
is one edit here and one reviewed fixture diff.
"""
import ipaddress
import string

from backends.libvirt import xml

DISK_BUS = "virtio"            # paravirtual; every cloud image has the driver
DISK_PREFIX = "vd"             # virtio disk names: vda, vdb, ...
DISK_CACHE = "none"            # O_DIRECT: host page cache off, safe on crash
DISK_DISCARD = "unmap"         # let guests' TRIM shrink qcow2 files
DISK_FORMAT = xml.StorageVolume.FORMAT_QCOW2   # overlays and blank disks
NIC_MODEL = "virtio"
CDROM_BUS, CDROM_TARGET = "sata", "sda"   # the config drive; SATA works on pc and q35 machines
# Preferred first: KVM when the host offers it, TCG, then the test driver.
DOMAIN_TYPES = ["kvm", "qemu", "test"]


def domain_type(offered):
    """Pick the domain type from those the host's capabilities offer."""
    for kind in DOMAIN_TYPES:
        if kind in offered:
            return kind
    if offered:
        return offered[0]
    raise ValueError("the hypervisor offers no hvm domain type")


def disk_targets(count, wanted=(), used=()):
    """Return `count` target names, honouring wanted ones (None: choose)."""
    wanted = list(wanted) + [None] * (count - len(wanted))
    taken = set(used) | {w for w in wanted if w}
    free = (DISK_PREFIX + c for c in string.ascii_lowercase if DISK_PREFIX + c not in taken)
    return [w or next(free) for w in wanted]


def volume_name(machine_name, target):
    """Name the volume a machine owns for one disk target."""
    return f"{machine_name}-{target}.{DISK_FORMAT}"


def overlay_volume(name, capacity, backing_path, backing_format):
    """Describe a qcow2 copy-on-write overlay on an image volume."""
    return xml.StorageVolume(name=name, capacity=capacity, capacity_unit="bytes",
                             target_format=DISK_FORMAT, backing_path=backing_path,
                             backing_format=backing_format)


def blank_volume(name, capacity, fmt=DISK_FORMAT):
    """Describe an empty volume (thin: allocation 0)."""
    return xml.StorageVolume(name=name, capacity=capacity, capacity_unit="bytes",
                             allocation=0, target_format=fmt)


def copy_volume(name, capacity):
    """Describe the qcow2 target of a copy (createXMLFrom sizes allocation)."""
    return xml.StorageVolume(name=name, capacity=capacity, capacity_unit="bytes",
                             target_format=DISK_FORMAT)


def disk(path, target, fmt=DISK_FORMAT):
    """Describe a <disk> on a volume file."""
    return xml.Disk(type=xml.Disk.TYPE_FILE, device=xml.Disk.DEVICE_DISK,
                    driver_name="qemu", driver_type=fmt, driver_cache=DISK_CACHE,
                    driver_discard=DISK_DISCARD, source_file=path,
                    target_dev=target, target_bus=DISK_BUS)


def cdrom(path):
    """Describe the read-only CD-ROM holding a machine's config drive."""
    return xml.Disk(type=xml.Disk.TYPE_FILE, device=xml.Disk.DEVICE_CDROM, driver_name="qemu",
                    driver_type="raw", source_file=path, target_dev=CDROM_TARGET, target_bus=CDROM_BUS)


def capture_snapshot(name, disk_targets, target, overlay_path):
    """Describe the disk-only snapshot that freezes one disk of a running domain.

    The frozen disk gets a qcow2 overlay at overlay_path for the guest's
    writes meanwhile; every other disk (Volumes, the config drive) is left as it is.
    """
    return xml.DomainSnapshot(name=name, description="capture of a running machine", disks=[
        xml.SnapshotDisk(name=t, snapshot=xml.SnapshotDisk.EXTERNAL, driver_type=DISK_FORMAT, source_file=overlay_path)
        if t == target else xml.SnapshotDisk(name=t, snapshot=xml.SnapshotDisk.NO) for t in disk_targets])


def interface(network, mac=None):
    """Describe a virtio NIC on a named libvirt network."""
    return xml.Interface(type="network", source_network=network, mac=mac, model=NIC_MODEL)


def domain(name, kind, cpu, memory_kib, disks, interfaces, owned=()):
    """Describe a Machine's domain.

    Args:
        disks: `xml.Disk` objects; the first one boots.
        owned: volume keys deleted together with the machine.
    """
    ownership = xml.Ownership(volumes=[xml.OwnedVolume(key=k) for k in owned])
    return xml.Domain(type=kind, name=name, ownership=[ownership], memory=memory_kib,
                      memory_unit="KiB", vcpu=cpu, os_type="hvm", boot_dev="hd",
                      acpi=True, on_poweroff="destroy", on_reboot="restart",
                      on_crash="destroy", disks=list(disks), interfaces=list(interfaces))


def network(name, mode, cidr=None):
    """Describe an isolated or NAT network; DHCP over the CIDR when given.

    The gateway takes the first host address and DHCP hands out the rest.
    """
    if mode not in ("isolated", xml.Network.FORWARD_NAT):
        raise ValueError(f"unknown network mode {mode!r}")
    net = xml.Network(name=name, forward_mode=mode if mode != "isolated" else None)
    if cidr:
        block = ipaddress.ip_network(cidr, strict=False)
        if block.version != 4 or block.num_addresses < 4:
            raise ValueError(f"{cidr!r}: need an IPv4 network with room for DHCP")
        hosts = list(block.hosts())
        net.ip_address, net.ip_netmask = str(hosts[0]), str(block.netmask)
        net.dhcp_start, net.dhcp_end = str(hosts[1]), str(hosts[-1])
    return net


def network_mode(net):
    """Map a parsed `xml.Network` back to "isolated" or "nat"."""
    return xml.Network.FORWARD_NAT if net.forward_mode == xml.Network.FORWARD_NAT else "isolated"


def network_cidr(net):
    """Return the CIDR of a parsed `xml.Network`, or None."""
    if not net.ip_address:
        return None
    return str(ipaddress.ip_network(f"{net.ip_address}/{net.ip_netmask}", strict=False))
