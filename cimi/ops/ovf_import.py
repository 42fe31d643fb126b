"""OVF import (DSP0263 4.3, Annex A): a package becomes a SystemTemplate and its parts.

Each leaf VirtualSystem yields a MachineConfiguration, a MachineImage (its first
disk, converted to qcow2), VolumeImages (its other disks) and a MachineTemplate;
each OVF network a Network component. Reading and checking the package is
ovf/'s job; this module maps its facts to CIMI rows and undoes everything when
any step fails, so nothing half-imported stays behind.
"""
import os
import re
import shutil
import tempfile
from pathlib import Path

import backends
from cimi import errors, imagefiles, localfiles, registry, represent, store
from cimi.ops import networks as network_ops
from cimi.ops import usage
from cimi.ops.machines import BUS_PREFIXES
from cimi.ops.resources import insert, remove
from cimi.vocabulary import type_uri
from ovf import disks as ovf_disks
from ovf.errors import OVFError
from ovf.hardware import resolve_hardware
from ovf.model import RT_IDE, RT_SCSI
from ovf.package import open_package

KIB = 1024


def import_root(ctx):
    """The directory a user imports from: all of it for an admin, <import dir>/<user>/ for anyone else.

    APPSEC: a tenant never reads another user's (or the admin's) files.
    """
    root = Path(ctx.cloud.config.import_dir).resolve()
    if ctx.user is None or ctx.user.admin:
        return root
    name = ctx.user.name or ""
    if not name or "/" in name or "\x00" in name or name in (".", ".."):
        raise errors.BadRequest("your user name cannot name an import directory; upload the package instead")
    return root / name


def source_path(ctx, source):
    """Return the local package a `source` URI names, inside the user's import directory (else 400).

    Messages show the directory to admins only; a tenant's is "your import directory".
    """
    root = import_root(ctx)
    where = str(root) if ctx.user is None or ctx.user.admin else "your import directory"
    path = localfiles.uri_path(source, root, schemes=("", "file"))
    if path is None:
        raise errors.BadRequest("source must be a file: URI or a path under the import directory "
                                f"({where}); this provider fetches nothing from the network")
    path = path.resolve()
    if not localfiles.inside(root, path) or not path.is_file():
        raise errors.BadRequest(f"no package {path.name!r} in {where}")
    return path


class _Undo:
    """What an import made, to remove if a later step fails."""

    def __init__(self, job):
        self.job, self.rows, self.images, self.networks = job, [], [], []

    def row(self, kind_name, fields):
        fields = {"owner": self.job.owner, **fields}
        with usage.admitted(self.job.ctx, kind_name, fields, {}):       # 403 beyond the owner's quota
            row = store.insert(kind_name, fields)
        self.rows.append((kind_name, row["id"]))
        return row

    def rollback(self):
        for kind_name, row_id in reversed(self.rows):
            store.delete(kind_name, row_id)
        for key in self.images:
            try:
                self.job.backend.delete_image(key)
            except backends.BackendError:
                pass
        for network_id in self.networks:
            try:
                self.job.inline(network_ops.delete, {"id": network_id})
            except (backends.BackendError, errors.CimiError):
                pass


def _href(job, kind_name, row):
    return represent.href(job.ctx, registry.get(kind_name), row)


def _networks(job, undo, env, label):
    """Network id per OVF network: the one networkMap names, else a new PRIVATE Network of that name."""
    out = dict(job.payload.get("networks") or {})
    kind = registry.get("Network")
    for net in env.networks:
        if net.name in out:
            continue
        row, created = insert(job.ctx, kind, {
            "name": net.name, "description": f"network {net.name} of {label}",
            "networkTemplate": {"networkConfig": {"networkType": "PRIVATE"}}})
        undo.networks.append(row["id"])
        job.inline(created.job, {**created.payload, "id": row["id"]})
        out[net.name] = row["id"]
    return out


def nic_model(sub_type):
    """The libvirt NIC model for an OVF ResourceSubType (a list: the first we know wins).

    Paravirtual adapters (VMXNET*, oVirt's "pv" 4) become virtio; emulated ones
    keep their model where qemu has it; anything else gets e1000, which every
    guest drives.
    """
    for token in (sub_type or "").lower().replace(",", " ").split():
        if token in NIC_MODELS:
            return NIC_MODELS[token]
    return "e1000"


NIC_MODELS = {"virtio": "virtio", "e1000": "e1000", "e1000e": "e1000e", "rtl8139": "rtl8139",
              "vmxnet": "virtio", "vmxnet2": "virtio", "vmxnet3": "virtio", "pcnet32": "e1000",
              "1": "rtl8139", "2": "rtl8139", "3": "e1000", "4": "virtio"}     # digits: oVirt's subtypes
_MAC = re.compile(r"^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$")


def _mac(address, where):
    """rasd:Address of a NIC as a libvirt MAC, or None when the package leaves it to us."""
    if not address:
        return None
    value = address.strip().lower()
    if not _MAC.match(value):
        raise OVFError(f"{where}: rasd:Address {address!r} is not a MAC address (DSP0243 9.5, "
                       "CIM_ResourceAllocationSettingData.Address of an Ethernet adapter)")
    mac = value.replace("-", ":")
    if int(mac[:2], 16) & 1:
        raise OVFError(f"{where}: rasd:Address {address!r} is a multicast MAC, which no NIC may have")
    return mac


#: busPolicy of the import: "package" keeps each disk on its controller's bus, "virtio" puts all on virtio.
BUS_POLICIES = ("package", "virtio")
BUS_UNITS = {"ide": 4}        # the pc machine's two IDE channels hold four disks
#: Controller ResourceSubType tokens (a list: the first we know wins). "virtio" on a SCSI
#: controller is COT's way to ask for paravirtual disks; VirtualBox writes VirtioSCSI.
CONTROLLER_SUBTYPES = {"virtio": "virtio", "virtio-blk": "virtio", "virtioscsi": "scsi", "virtio-scsi": "scsi",
                       "lsilogic": "scsi", "lsilogicsas": "scsi", "buslogic": "scsi", "virtualscsi": "scsi",
                       "pvscsi": "scsi", "ahci": "sata", "vmware.sata.ahci": "sata", "piix3": "ide", "piix4": "ide",
                       "ich6": "ide"}


def controller_bus(controller):
    """The bus a disk on this OVF controller Item gets: ide, scsi, sata or virtio.

    IDE (ResourceType 5) is ide; SCSI (6) scsi (on virtio-scsi) unless its
    subtype asks for virtio first; "other storage" (20) follows its subtype
    (AHCI: sata); no or an unknown controller: virtio.
    """
    if controller is None:
        return "virtio"
    for token in (controller.subType or "").lower().replace(",", " ").split():
        if token in CONTROLLER_SUBTYPES:
            return CONTROLLER_SUBTYPES[token]
    return {RT_IDE: "ide", RT_SCSI: "scsi"}.get(controller.resourceType, "virtio")


def disk_locations(vs_id, drives, controllers, policy):
    """The (device name, bus) of each drive ("hda", "sdb", "vdc", ...), numbered per bus in the drives' order.

    The boot disk comes first, so it is the first of its bus (hda, sda, vda): the one a BIOS boots.
    """
    controllers = {c.instanceID: c for c in controllers}
    used, out = {}, []
    for drive in drives:
        bus = controller_bus(controllers.get(drive.controller)) if policy == "package" else "virtio"
        prefix = BUS_PREFIXES[bus]                  # SCSI and SATA disks share the sd names
        n = used[prefix] = used.get(prefix, -1) + 1
        if n >= BUS_UNITS.get(bus, 25):
            raise OVFError(f"VirtualSystem {vs_id} puts more than {BUS_UNITS.get(bus, 25)} disks on its {bus} "
                           "controllers; import it with busPolicy \"virtio\"")
        out.append((prefix + chr(ord("a") + n), bus))
    return out


def _placed(location):
    """initialLocation, and bus when the name does not say it (SATA: sd* names SCSI)."""
    name, bus = location
    return {"initialLocation": name, **({"bus": bus} if bus == "sata" else {})}


class _Progress:
    """The import Job's progress in real steps: reading the package is the first half, converting its disks
    (qemu-img's own percentage, weighted by each disk's size) the second."""

    def __init__(self, job, package_bytes):
        self.job, self.package_bytes, self.last = job, max(package_bytes, 1), -1
        self.disk_bytes, self.converted = 1, 0

    def read(self, done):
        self._report(50 * done / self.package_bytes, f"read {done} of {self.package_bytes} bytes")

    def converting(self, size):
        """The progress callback of converting one disk of `size` bytes."""
        base = self.converted
        self.converted += size

        def report(percent):
            done = base + size * percent / 100
            self._report(50 + 49 * done / self.disk_bytes, f"converted {int(done)} of {self.disk_bytes} bytes")
        return report

    def _report(self, percent, message):
        if int(percent) > self.last:
            self.last = int(percent)
            self.job.progress(self.last, message)


def _image(job, undo, package, drive, name, work, progress):
    """Convert one disk file to qcow2 and store it in the backend; return (ImageInfo, capacity bytes)."""
    src = package.files[drive.fileRef]
    target = os.path.join(work, f"{name}.qcow2")
    info = ovf_disks.convert_to_qcow2(src, target, package.formats[drive.fileRef],
                                      progress=progress.converting(os.path.getsize(src)))
    capacity = max(drive.capacityBytes or 0, info.virtualSize or 0)
    image = job.backend.create_image(name, capacity, source_path=target, source_format="qcow2")
    undo.images.append(image.key)
    os.unlink(target)
    return image, capacity


def _machine_parts(job, undo, package, vs, profile, work, networks, progress):
    """Rows for one VirtualSystem; return its MachineTemplate row.

    The first disk with content boots (the MachineImage); every other disk, in
    the package's order, becomes a VolumeImage (blank: none) and a volumeTemplate.
    """
    hw = resolve_hardware(package.envelope, vs, profile)
    name, about = vs.name or vs.id, f"imported from {job.payload.get('label') or 'a package'}"
    if not hw.memoryMiB or not hw.cpus:
        raise OVFError(f"VirtualSystem {vs.id} declares no CPU or memory")
    boot = next((d for d in hw.disks if d.fileRef), None)
    if boot is None:
        raise OVFError(f"VirtualSystem {vs.id} has no disk with content to boot from")
    drives = [boot] + [d for d in hw.disks if d is not boot]
    locations = dict(zip((d.instanceID for d in drives),
                         disk_locations(vs.id, drives, hw.controllers, job.payload.get("busPolicy") or "package")))
    disks = []                  # (drive, image row or None, capacity bytes)
    for i, drive in enumerate(hw.disks):
        image = None
        capacity = drive.capacityBytes or 0
        if drive.fileRef:
            image, capacity = _image(job, undo, package, drive, f"cimi-ovf-{job.payload['id'][:8]}-{vs.id}-{i}"
                                     .replace("/", "-"), work, progress)
            kind_name = "MachineImage" if drive is boot else "VolumeImage"
            image = undo.row(kind_name, {"name": f"{name} disk {drive.diskId or drive.instanceID}",
                                         "description": about, "state": "AVAILABLE", "data": {
                "imageLocation": image.key, "_key": image.key, "_bytes": image.capacity_bytes, "_format": "qcow2",
                **({"type": "IMAGE"} if drive is boot else {"bootable": False})}})
        disks.append((drive, image, capacity))
    boot_image, boot_capacity = next((img, cap) for d, img, cap in disks if d is boot)
    config = undo.row("MachineConfiguration", {"name": f"{name} ({profile or 'default'})", "description": about,
                                               "data": {"cpu": hw.cpus, "memory": hw.memoryMiB * 1024,
                                                        "cpuArch": "x86_64", "disks": [{
                                                            "capacity": -(-boot_capacity // KIB), "format": "raw",
                                                            **_placed(locations[boot.instanceID])}]}})
    volumes = [{"volumeConfig": {"capacity": -(-max(cap, 1) // KIB)},
                **({"volumeImage": {"href": _href(job, "VolumeImage", img)}} if img else {}),
                **_placed(locations[drive.instanceID])}
               for drive, img, cap in disks if drive is not boot]
    nics = []
    for nic in hw.nics:
        if not nic.network:
            package.envelope.warnings.append(f"{vs.id}: NIC {nic.instanceID} connects to no network; left out")
            continue
        interface = {"network": {"href": _href(job, "Network", store.get("Network", networks[nic.network]))},
                     "state": "ACTIVE", "model": nic_model(nic.subType)}
        mac = _mac(nic.address, f"{vs.id}: NIC {nic.instanceID}")
        nics.append({**interface, "macAddress": mac} if mac else interface)
    data = {"machineConfig": {"href": _href(job, "MachineConfiguration", config)},
            "machineImage": {"href": _href(job, "MachineImage", boot_image)},
            **({"volumeTemplates": volumes} if volumes else {}), **({"networkInterfaces": nics} if nics else {})}
    properties = {f"ovf:{p.key}": p.default for p in vs.properties if p.default is not None and not p.password}
    return undo.row("MachineTemplate", {"name": name, "description": f"{vs.id}, {about}",
                                        "properties": properties, "data": data})


def run(job):
    work = tempfile.mkdtemp(prefix="cimi-import-", dir=job.ctx.cloud.config.data_dir)
    undo = _Undo(job)
    try:
        progress = _Progress(job, os.path.getsize(job.payload["path"]))
        package = open_package(job.payload["path"], dest=work, progress=progress.read)
        env = package.envelope
        profile = job.payload.get("profile") or env.defaultProfile
        progress.disk_bytes = max(1, sum(os.path.getsize(package.files[f]) for f in package.formats))
        networks = _networks(job, undo, env, job.payload.get("label") or "a package")
        components = []
        for vs in env.virtualSystems():
            template = _machine_parts(job, undo, package, vs, profile, work, networks, progress)
            components.append({"type": type_uri("Machine"), "name": template["name"],
                               "machineTemplate": {"href": _href(job, "MachineTemplate", template)}})
        row = store.get("SystemTemplate", job.payload["id"])
        made = [["Network", n] for n in undo.networks] + [list(r) for r in undo.rows]   # deleted with it, in reverse
        store.update("SystemTemplate", row["id"], {"data": {**row["data"], "componentDescriptors": components,
                                                            "_made": made},
                                                   "properties": {"ovf:signature": package.signature.status,
                                                                  **({"ovf:profile": profile} if profile else {})}})
        job.progress(100, "imported" + "".join(f"; warning: {w}" for w in env.warnings))
    except OVFError as exc:
        undo.rollback()
        raise errors.BadRequest(f"package refused: {exc}") from None
    except BaseException:
        undo.rollback()
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if job.payload.get("remove"):
            imagefiles.remove(job.payload["path"])


def import_failed(ctx, row):
    """A failed import leaves no SystemTemplate behind."""
    remove(registry.get("SystemTemplate"), row)
