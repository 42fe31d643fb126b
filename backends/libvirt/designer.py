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
# Other buses, for disks imported with their package's controller (OVF IDE,
# SCSI, SATA) so that a guest without virtio drivers still finds its disks.
# The bus follows from the target's prefix, Linux's names: hd -> ide (the pc
# machine type's two channels: hda..hdd), sd -> scsi on a virtio-scsi
# controller (lsilogic, libvirt's default, is missing from some QEMU builds),
# anything else -> virtio. SATA disks are named sd too: they say so with an
# explicit bus "sata". q35 has no IDE: our domains use the default pc type.
DISK_BUSES = {"hd": "ide", "sd": "scsi", "vd": "virtio"}
BUS_PREFIXES = {"ide": "hd", "scsi": "sd", "sata": "sd", "virtio": "vd"}
BUS_TARGETS = {"ide": 4}       # at most this many disks on a bus (IDE: 2 channels x 2)
COLD_PLUG_BUSES = ("ide",)     # QEMU cannot hot-plug these: attach to a stopped machine only
SCSI_CONTROLLER_MODEL = "virtio-scsi"
DISK_CACHE = "none"            # O_DIRECT: host page cache off, safe on crash
DISK_DISCARD = "unmap"         # let guests' TRIM shrink qcow2 files
DISK_FORMAT = xml.StorageVolume.FORMAT_QCOW2   # overlays and blank disks
NIC_MODEL = "virtio"
# The config drive is a read-only virtio disk, not a CD-ROM: a virtio-blk
# driver is in every cloud kernel (the root disk needs it) and works on pc and
# q35 machines alike, whereas Debian's cloud kernel has no AHCI driver (no
# SATA CD-ROM) and q35 has no IDE. cloud-init finds it by its label, `cidata`;
# its serial names it to us and to the guest (/dev/disk/by-id/virtio-cidata).
# Its target is the last free name (vdz), so that the names a consumer asks
# for when attaching Volumes (vdb, vdc, ...) stay free.
CONFIG_DRIVE_SERIAL = "cidata"
# Preferred first: KVM when the host offers it, TCG, then the test driver.
DOMAIN_TYPES = ["kvm", "qemu", "test"]
# CPU: libvirt's default model for QEMU is qemu64, which lacks SSE4.2 and
# POPCNT, so distributions built for x86-64-v2 (RHEL 9 and its rebuilds) do
# not boot. KVM passes the host's CPU as a named model plus features
# (host-model: migratable between like hosts). TCG emulates Nehalem in full:
# the oldest named model with x86-64-v2, and unlike `max` the same CPU on
# every QEMU version.
CPU_HOST_MODEL = "host-model"
CPU_TCG_MODEL = "Nehalem"
# The serial console's log: written by virtlogd (not QEMU), which rotates the
# file at max_size (virtlogd.conf, default 2 MiB) keeping max_backups (default
# 3) older ones as <file>.0, .1, ...: at most 8 MiB per machine by default.
# Appended across boots, so a crash's last words survive the restart.
CONSOLE_DIR = "/var/log/libvirt/qemu"
VNC_LISTEN = "127.0.0.1"       # loopback only: VNC has no authentication here


def domain_type(offered):
    """Pick the domain type from those the host's capabilities offer."""
    for kind in DOMAIN_TYPES:
        if kind in offered:
            return kind
    if offered:
        return offered[0]
    raise ValueError("the hypervisor offers no hvm domain type")


def disk_bus(target, bus=None):
    """Return the bus of a disk: `bus` when given, else the one its target's prefix names."""
    return bus or DISK_BUSES.get(target[:2], DISK_BUS)


def disk_targets(count, wanted=(), used=(), buses=()):
    """Return `count` target names, honouring wanted ones (None: choose on the disk's bus, else virtio).

    Raises:
        ValueError: when a bus has no free name left (IDE: four).
    """
    wanted = list(wanted) + [None] * (count - len(wanted))
    buses = list(buses) + [None] * (count - len(buses))
    taken = set(used) | {w for w in wanted if w}
    out = []
    for want, bus in zip(wanted, buses):
        if not want:
            prefix = BUS_PREFIXES.get(bus or DISK_BUS, DISK_PREFIX)
            names = [prefix + c for c in string.ascii_lowercase[:BUS_TARGETS.get(bus, 26)]]
            want = next((n for n in names if n not in taken), None)
            if want is None:
                raise ValueError(f"no free disk name left on the {bus} bus ({names[0]}..{names[-1]})")
            taken.add(want)
        out.append(want)
    return out


def config_drive_target(used):
    """Return the config drive's target: the last free disk name."""
    return next(DISK_PREFIX + c for c in reversed(string.ascii_lowercase) if DISK_PREFIX + c not in used)


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


def disk(path, target, fmt=DISK_FORMAT, bus=None):
    """Describe a <disk> on a volume file, on `bus` (None: the one its target names)."""
    return xml.Disk(type=xml.Disk.TYPE_FILE, device=xml.Disk.DEVICE_DISK,
                    driver_name="qemu", driver_type=fmt, driver_cache=DISK_CACHE,
                    driver_discard=DISK_DISCARD, source_file=path,
                    target_dev=target, target_bus=disk_bus(target, bus))


def controllers(disks):
    """The controllers the disks need that libvirt would not choose as we want: virtio-scsi for SCSI disks."""
    if any(d.target_bus == "scsi" for d in disks):
        return [scsi_controller()]
    return []


def scsi_controller():
    """Describe the SCSI controller (index 0) SCSI disks sit on."""
    return xml.Controller(type="scsi", index=0, model=SCSI_CONTROLLER_MODEL)


def config_drive(path, target):
    """Describe the read-only disk holding a machine's config drive (an ISO)."""
    return xml.Disk(type=xml.Disk.TYPE_FILE, device=xml.Disk.DEVICE_DISK, driver_name="qemu",
                    driver_type="raw", source_file=path, target_dev=target, target_bus=DISK_BUS,
                    readonly=True, serial=CONFIG_DRIVE_SERIAL)


def is_config_drive(disk):
    """Tell the config drive from the machine's own disks."""
    return disk.serial == CONFIG_DRIVE_SERIAL


def capture_snapshot(name, disk_targets, target, overlay_path):
    """Describe the disk-only snapshot that freezes one disk of a running domain.

    The frozen disk gets a qcow2 overlay at overlay_path for the guest's
    writes meanwhile; every other disk (Volumes, the config drive) is left as it is.
    """
    return xml.DomainSnapshot(name=name, description="capture of a running machine", disks=[
        xml.SnapshotDisk(name=t, snapshot=xml.SnapshotDisk.EXTERNAL, driver_type=DISK_FORMAT, source_file=overlay_path)
        if t == target else xml.SnapshotDisk(name=t, snapshot=xml.SnapshotDisk.NO) for t in disk_targets])


def console_log(console_dir, name):
    """Return the path of a machine's serial console log."""
    return f"{(console_dir or CONSOLE_DIR).rstrip('/')}/{name}-console.log"


def cpu_model(kind):
    """Return the <cpu> properties of a domain of this type."""
    if kind == "kvm":
        return {"cpu_mode": CPU_HOST_MODEL}
    return {"cpu_mode": "custom", "cpu_match": "exact", "cpu_model": CPU_TCG_MODEL, "cpu_fallback": "forbid"}


def interface(network, mac=None, model=None):
    """Describe a NIC on a named libvirt network (virtio unless another model is asked for)."""
    return xml.Interface(type="network", source_network=network, mac=mac, model=model or NIC_MODEL)


def domain(name, kind, cpu, memory_kib, disks, interfaces, owned=(), console_dir=None):
    """Describe a Machine's domain, with a logged serial console and a VNC display.

    Args:
        disks: `xml.Disk` objects; the first one boots.
        owned: volume keys deleted together with the machine.
        console_dir: where the serial console log goes (None: CONSOLE_DIR).
    """
    ownership = xml.Ownership(volumes=[xml.OwnedVolume(key=k) for k in owned])
    serial = xml.Serial(type="pty", log_file=console_log(console_dir, name), log_append=True, target_port=0)
    console = xml.Console(type="pty", target_type="serial", target_port=0)
    vnc = xml.Graphics(type=xml.Graphics.TYPE_VNC, port=-1, autoport=True, listen=VNC_LISTEN,
                       listen_type="address", listen_address=VNC_LISTEN)
    # NOTE: on_crash "destroy", not "preserve": a crashed guest's memory stays
    # reserved under "preserve" until someone acts, and a Machine in ERROR can
    # only be started afresh or deleted anyway. The domain (its definition,
    # disks and console log) stays for inspection, libvirt says why it stopped
    # (shut off, reason "crashed"), and the Machine keeps that in statusMessage.
    return xml.Domain(type=kind, name=name, ownership=[ownership], memory=memory_kib,
                      memory_unit="KiB", vcpu=cpu, os_type="hvm", boot_dev="hd",
                      acpi=True, **cpu_model(kind), on_poweroff="destroy", on_reboot="restart",
                      on_crash="destroy", disks=list(disks), controllers=controllers(disks),
                      interfaces=list(interfaces),
                      serials=[serial], consoles=[console], graphics=[vnc])


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
        # NOTE: indexed, not listed: a /8 has 16 million hosts
        net.ip_address, net.ip_netmask = str(block[1]), str(block.netmask)
        net.dhcp_start, net.dhcp_end = str(block[2]), str(block[-2])
    return net


def network_mode(net):
    """Map a parsed `xml.Network` back to "isolated" or "nat"."""
    return xml.Network.FORWARD_NAT if net.forward_mode == xml.Network.FORWARD_NAT else "isolated"


def network_cidr(net):
    """Return the CIDR of a parsed `xml.Network`, or None."""
    if not net.ip_address:
        return None
    return str(ipaddress.ip_network(f"{net.ip_address}/{net.ip_netmask}", strict=False))
