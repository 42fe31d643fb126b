"""Plain data passed across the backend interface.

Sizes are in bytes and memory in KiB (the CIMI unit) so that no caller has to
guess a unit. Objects are identified by the `key` the backend returns: a
string the store keeps and hands back verbatim (for libvirt: the domain UUID,
a volume's path or key, a network name).
"""
from dataclasses import dataclass, field


# Machine states the backend reports, named as CIMI names them (DSP0263 5.14.1).
STARTED, STOPPED, PAUSED, SUSPENDED, STOPPING, ERROR, GONE = (
    "STARTED", "STOPPED", "PAUSED", "SUSPENDED", "STOPPING", "ERROR", "GONE")


@dataclass
class DiskSpec:
    """One disk of a new machine.

    image_key: the image volume to back a copy-on-write overlay (root disk), or
    None for a blank disk of capacity_bytes.
    """
    capacity_bytes: int
    image_key: str | None = None
    target: str | None = None          # e.g. "vda"; None lets the backend choose
    bus: str | None = None             # "virtio", "ide", "scsi" or "sata"; None: the target's (else virtio)


#: NIC models a backend offers: paravirtual, and emulated ones guests without virtio drive.
NIC_MODELS = ("virtio", "e1000", "e1000e", "rtl8139")


@dataclass
class NicSpec:
    network_key: str                   # key of a NetworkInfo
    mac: str | None = None             # None: the backend picks one
    model: str | None = None           # one of NIC_MODELS; None: virtio


@dataclass
class GuestUser:
    """A login the guest's cloud-init sets up (from a CIMI Credential)."""
    name: str | None = None            # None: the image's default user
    ssh_keys: list[str] = field(default_factory=list)
    password_hash: str | None = None   # crypt(3) form ("$6$..."), never the password itself


@dataclass
class MachineSpec:
    name: str                          # unique, stable name (the store's uuid)
    cpu: int
    memory_kib: int
    disks: list[DiskSpec] = field(default_factory=list)
    nics: list[NicSpec] = field(default_factory=list)
    user_data: bytes | None = None     # decoded CIMI userData, for cloud-init
    users: list[GuestUser] = field(default_factory=list)
    host: str | None = None            # chosen by placement; None: the only host
    hostname: str | None = None        # the guest's hostname (the Machine's name); None: name
    instance_id: str | None = None     # cloud-init's instance-id (the Machine's id); None: name


@dataclass
class DiskInfo:
    key: str
    capacity_bytes: int
    target: str
    bus: str | None = None             # "virtio", "ide", "scsi", "sata"


@dataclass
class NicInfo:
    network_key: str
    mac: str
    model: str | None = None


@dataclass
class MachineInfo:
    key: str
    state: str                         # one of the states above
    cpu: int
    memory_kib: int
    disks: list[DiskInfo] = field(default_factory=list)
    nics: list[NicInfo] = field(default_factory=list)
    host: str | None = None
    name: str | None = None            # the MachineSpec.name it was created with
    vnc: str | None = None             # "address:port" of the VNC display while running
    reason: str | None = None          # in ERROR: why, in words (a crash, a failed start)
    active: bool = False               # the hypervisor runs it (or holds it paused or crashed)


@dataclass
class ImageInfo:
    key: str
    capacity_bytes: int
    format: str                        # "qcow2" or "raw"
    host: str | None = None


@dataclass
class VolumeSpec:
    name: str
    capacity_bytes: int
    image_key: str | None = None       # copy the content of this image/volume
    host: str | None = None


@dataclass
class VolumeInfo:
    key: str
    capacity_bytes: int
    format: str
    host: str | None = None


@dataclass
class NetworkSpec:
    name: str
    mode: str = "isolated"             # "isolated" or "nat"
    cidr: str | None = None            # e.g. "192.168.150.0/24"; None: no addressing
    host: str | None = None


@dataclass
class NetworkInfo:
    key: str
    state: str                         # STARTED or STOPPED
    mode: str
    cidr: str | None = None
    host: str | None = None


@dataclass
class HostInfo:
    """A hypervisor host as placement sees it."""
    name: str
    uri: str
    cpus: int
    memory_kib: int
    free_memory_kib: int
