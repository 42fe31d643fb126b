"""Effective hardware of one VirtualSystem under one deployment option.

Turns the declared Items into facts a cloud can act on: vCPUs, memory in
MiB, disks (with their Disk and File), controllers, NICs and CD-ROMs.
Units go through :mod:`ovf.units`; memory without units is MiB, as
VMware and VirtualBox write it.
"""

from dataclasses import dataclass, field

from ovf import model
from ovf.errors import OVFError
from ovf.model import Envelope, Item, VirtualSystem
from ovf.units import parse_count, to_bytes

#: ``rasd:HostResource`` spellings (clause 9.5): ovf:/disk/ID, legacy
#: /disk/ID, VirtualBox's ovf://disk/ID; same for file.
_HOST_PREFIXES = {
    "ovf:/disk/": "disk", "ovf://disk/": "disk", "/disk/": "disk",
    "ovf:/file/": "file", "ovf://file/": "file", "/file/": "file",
}


def host_resource(value: str) -> tuple[str, str] | None:
    """Split a HostResource into ("disk"|"file", id), or None if foreign."""
    for prefix, what in _HOST_PREFIXES.items():
        if value.startswith(prefix) and len(value) > len(prefix):
            return what, value[len(prefix):]
    return None


def drive_files(env: Envelope) -> list[str]:
    """Ids of the Files disk Items name directly (``ovf:/file/``, no Disk)."""
    found = []
    for vs in env.virtualSystems():
        for item in vs.items:
            if item.resourceType not in model.DISK_TYPES:
                continue
            for value in item.hostResource:
                ref = host_resource(value)
                if ref and ref[0] == "file" and ref[1] not in found:
                    found.append(ref[1])
    return found


@dataclass(frozen=True)
class DiskDrive:
    """A disk attached to the machine: a Disk, or a bare logical disk."""

    instanceID: str
    diskId: str | None
    capacityBytes: int | None
    format: str | None
    fileRef: str | None
    controller: str | None = None


@dataclass(frozen=True)
class Controller:
    """A storage controller Item (IDE, SCSI, SATA/AHCI, …)."""

    instanceID: str
    resourceType: int
    subType: str | None


@dataclass(frozen=True)
class NIC:
    """An Ethernet adapter and the logical network it connects to."""

    instanceID: str
    network: str | None
    subType: str | None
    name: str | None
    address: str | None = None


@dataclass(frozen=True)
class CDROM:
    """A CD/DVD drive; ``fileRef`` names the ISO File, None when empty."""

    instanceID: str
    fileRef: str | None


@dataclass
class Hardware:
    """The hardware of one VirtualSystem under one profile."""

    profile: str | None
    cpus: int | None = None
    coresPerSocket: int | None = None
    memoryMiB: int | None = None
    disks: list[DiskDrive] = field(default_factory=list)
    controllers: list[Controller] = field(default_factory=list)
    nics: list[NIC] = field(default_factory=list)
    cdroms: list[CDROM] = field(default_factory=list)


def resolve_hardware(env: Envelope, vs: VirtualSystem,
                     profile: str | None) -> Hardware:
    """Compute the hardware of ``vs`` for deployment option ``profile``.

    Raises:
        OVFError: on a quantity we cannot read.
    """
    hw = Hardware(profile)
    for item in model.items_for_profile(vs.items, profile):
        rt = item.resourceType
        if rt == model.RT_PROCESSOR and hw.cpus is None:
            hw.cpus = parse_count(item.virtualQuantity,
                                  f"vCPU count of {vs.id}") or 1
            hw.coresPerSocket = item.coresPerSocket
        elif rt == model.RT_MEMORY and hw.memoryMiB is None:
            size = to_bytes(item.virtualQuantity, item.allocationUnits,
                            f"memory of {vs.id}", default_units="byte * 2^20")
            hw.memoryMiB = None if size is None else size // 2**20
        elif rt in model.CONTROLLER_TYPES:
            hw.controllers.append(Controller(item.instanceID, rt,
                                             item.resourceSubType))
        elif rt == model.RT_ETHERNET:
            hw.nics.append(NIC(item.instanceID,
                               item.connection[0] if item.connection else None,
                               item.resourceSubType, item.elementName, item.address))
        elif rt in (model.RT_CDROM, model.RT_DVD):
            hw.cdroms.append(CDROM(item.instanceID, _file_of(item)))
        elif rt in model.DISK_TYPES:
            drive = _disk_drive(env, vs, item)
            if drive is not None:
                hw.disks.append(drive)
    return hw


def _file_of(item: Item) -> str | None:
    for value in item.hostResource:
        ref = host_resource(value)
        if ref and ref[0] == "file":
            return ref[1]
    return None


def _disk_drive(env: Envelope, vs: VirtualSystem, item: Item) -> DiskDrive | None:
    """Describe a disk Item through its Disk, or its own quantity."""
    for value in item.hostResource:
        ref = host_resource(value)
        if ref and ref[0] == "disk":
            disk = env.disk(ref[1])
            if disk is None:
                raise OVFError(f"{vs.id}: Item {item.instanceID} names "
                               f"Disk {ref[1]!r}, not in DiskSection")
            return DiskDrive(item.instanceID, disk.diskId, disk.capacityBytes,
                             disk.format, disk.fileRef, item.parent)
        if ref and ref[0] == "file":
            return DiskDrive(item.instanceID, None, None, None, ref[1], item.parent)
    if item.resourceType == model.RT_LOGICAL_DISK or item.virtualQuantity:
        # DSP0243 2.x StorageItem: a logical disk sized by the Item itself.
        size = to_bytes(item.virtualQuantity, item.allocationUnits,
                        f"size of disk Item {item.instanceID} of {vs.id}")
        return DiskDrive(item.instanceID, None, size, None, None, item.parent)
    return None
