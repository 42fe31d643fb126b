"""OVF export (DSP0263 `export` on Machine and System): a stopped machine, or a
System whose machines are all stopped, written back as an OVA.

The Action takes `format` (the package type; only application/ovf, the
default), `properties.diskFormat` ("vmdk", streamOptimized, the default; or
"qcow2") and an optional `destination`, a file: URI naming a new .ova directly
in Config.export_dir. The Job streams each disk out of the backend
(`export_disk`), converts it with qemu-img (format always explicit), checks
the result by its bytes, then has ovf/writer.py write the OVA (descriptor,
SHA256 manifest, disks; under its final name only when complete, never
over an existing file). The package is served read-only by
cimi/http/downloads.py at the href the Job lists in affectedResources.
"""
import os
import re
import shutil
import tempfile

from backends import model as backend_model
from cimi import errors, localfiles, store
from cimi.naming import backend_key
from cimi.ops import exported_packages
from cimi.ops.exported_packages import export_root, is_package_name
from cimi.ops.systems import machines_of
from ovf import disks as ovf_disks
from ovf.errors import OVFError
from ovf.model import (
    RT_DISK,
    RT_ETHERNET,
    RT_IDE,
    RT_MEMORY,
    RT_OTHER_STORAGE,
    RT_PROCESSOR,
    RT_SCSI,
    Disk,
    Envelope,
    File,
    Item,
    Network,
    VirtualSystem,
    VirtualSystemCollection,
)
from ovf.names import DISK_FORMAT_URIS
from ovf.writer import write_ova

PACKAGE_FORMATS = ("application/ovf",)
DISK_FORMATS = {"vmdk": ("vmdk", "vmdk-streamOptimized", ".vmdk", ["-o", "subformat=streamOptimized"]),
                "qcow2": ("qcow2", "qcow2", ".qcow2", [])}
DEFAULT_DISK_FORMAT = "vmdk"
DOWNLOADS = "exports"                 # URL segment under the CEP base (cimi/http/downloads.py)
MIB = 1 << 20
#: libvirt NIC model -> the ResourceSubType other OVF readers know it by.
NIC_SUBTYPES = {"e1000": "E1000", "e1000e": "E1000e", "virtio": "virtio", "rtl8139": "rtl8139"}
#: A disk's bus -> its controller Item (ResourceType, ResourceSubType, name), read back by the import
#: (cimi/ops/ovf_import.py): virtio disks sit on a SCSI controller whose subtype list asks for virtio first
#: (as COT writes it; others take lsilogic), IDE ones on one controller per channel (two disks each).
BUS_CONTROLLERS = {"virtio": (RT_SCSI, "virtio lsilogic", "SCSI controller"),
                   "scsi": (RT_SCSI, "lsilogic", "SCSI controller"),
                   "sata": (RT_OTHER_STORAGE, "AHCI", "SATA controller"),
                   "ide": (RT_IDE, "PIIX4", "IDE controller")}
IDE_UNITS = 2                   # disks per IDE channel (master, slave)



def download_href(ctx, name):
    return f"{ctx.base}{DOWNLOADS}/{name}"


def _options(params):
    """Check the Action's parameters; return (qemu format, OVF short format, suffix, qemu options)."""
    fmt = (params.get("format") or PACKAGE_FORMATS[0]).strip().lower()
    if fmt not in PACKAGE_FORMATS:
        raise errors.BadRequest(f"format {params['format']!r} is not offered; export writes "
                                f"{', '.join(PACKAGE_FORMATS)} (an OVA)")
    disk = ((params.get("properties") or {}).get("diskFormat") or DEFAULT_DISK_FORMAT).strip().lower()
    if disk not in DISK_FORMATS:
        raise errors.BadRequest(f"properties.diskFormat {disk!r} is not one of {', '.join(DISK_FORMATS)}")
    return DISK_FORMATS[disk]


def destination_path(cloud, destination, default_name):
    """The OVA to write: default_name, or the file: URI `destination`, in the export directory (else 400)."""
    root = export_root(cloud)
    if not destination:
        return root / default_name
    path = localfiles.uri_path(destination, root)
    if path is None:
        raise errors.BadRequest("destination must be a file: URI in the export directory (--export-dir); "
                                "this provider sends nothing over the network")
    if path.parent.resolve() != root or not is_package_name(path.name) or path.is_symlink():
        raise errors.BadRequest("destination must name a new .ova file (letters, digits, '_.+-') "
                                "directly in the export directory (--export-dir)")
    return root / path.name


def _safe_id(text, fallback):
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "-", text or "").strip("-.")[:64]
    return cleaned or fallback


class _Exporter:
    """One export Job: the rows to export in, an OVA out."""

    def __init__(self, job, params, work, expected):
        self.job, self.params, self.work, self.expected = job, params, work, expected
        self.qemu_format, self.ovf_format, self.suffix, self.options = _options(params)
        self.ids = set()
        self.references, self.disks, self.networks = [], [], []
        self.files = []              # (member name, local path)

    def machine_system(self, row, n):
        """Export one Machine's disks; return its VirtualSystem."""
        info = self.job.backend.machine(backend_key(row))
        if info.state != backend_model.STOPPED:
            raise errors.Conflict(f"Machine {row['id']} is {info.state}; export needs it STOPPED")
        vs_id = _safe_id(row["name"], f"vm{n}")
        if vs_id in self.ids:
            vs_id = f"{vs_id}-{n}"
        self.ids.add(vs_id)
        items = [Item("1", RT_PROCESSOR, elementName=f"{info.cpu} virtual CPU(s)", virtualQuantity=str(info.cpu),
                      allocationUnits="hertz * 10^6"),
                 Item("2", RT_MEMORY, elementName=f"{-(-info.memory_kib // 1024)} MiB of memory",
                      virtualQuantity=str(-(-info.memory_kib // 1024)), allocationUnits="byte * 2^20")]
        instance, controllers, units = 3, {}, {}
        for i, disk in enumerate(info.disks):
            index = len(self.disks) + 1
            self._disk(disk.key, index, f"{vs_id}-disk{i + 1}{self.suffix}")
            bus = disk.bus if disk.bus in BUS_CONTROLLERS else "virtio"
            unit = units[bus] = units.get(bus, -1) + 1
            channel, unit = (unit // IDE_UNITS, unit % IDE_UNITS) if bus == "ide" else (0, unit)
            if (bus, channel) not in controllers:
                kind, sub_type, label = BUS_CONTROLLERS[bus]
                address = sum(item.resourceType == kind for item in items)      # the n-th controller of its type
                controllers[bus, channel] = str(instance)
                items.append(Item(str(instance), kind, elementName=f"{label} {address}", resourceSubType=sub_type,
                                  address=str(address)))
                instance += 1
            items.append(Item(str(instance), RT_DISK, elementName=f"disk {i + 1} ({disk.target})",
                              hostResource=(f"ovf:/disk/vmdisk{index}",), parent=controllers[bus, channel],
                              addressOnParent=str(unit)))
            instance += 1
        recorded = {n["data"].get("macAddress"): n for n in store.children("MachineNetworkInterface", row["id"])}
        for i, nic in enumerate(info.nics):             # the domain's order, with its MACs and models
            href = (recorded.get(nic.mac) or {"data": {}})["data"].get("network", {}).get("href", "")
            items.append(Item(str(instance), RT_ETHERNET, elementName=f"ethernet {i}",
                              connection=(self._network(href),), addressOnParent=str(i), address=nic.mac,
                              resourceSubType=NIC_SUBTYPES.get(nic.model or "", nic.model)))
            instance += 1
        return VirtualSystem(id=vs_id, name=row["name"] or vs_id, osId=1, osDescription="Other",
                             items=items)

    def _network(self, href):
        return self.network(store.find("Network", href.rsplit("/", 1)[-1]) if href else None)

    def network(self, net):
        """Declare a Network row (or an unknown one) in the NetworkSection; return its OVF name."""
        name = (net and net["name"]) or (f"network-{net['id'][:8]}" if net else "network")
        if name not in [n.name for n in self.networks]:
            self.networks.append(Network(name, net and net["description"]))
        return name

    def _disk(self, key, index, member):
        """Stream one disk out of the backend, convert and check it; record its File and Disk."""
        raw = os.path.join(self.work, f"backend-{index}")
        info = self.job.backend.export_disk(key, raw)
        found = ovf_disks.inspect_file(raw)     # APPSEC: what the backend handed over, by its bytes
        if found.format != info.format:
            raise errors.CimiError(f"disk {key} is {found.format}, the backend said {info.format}")
        out = os.path.join(self.work, member)
        try:     # bounded as on import, with room for big disks; errors name no host path
            result = ovf_disks.convert(raw, out, info.format, self.qemu_format, self.options,
                                       cpu_seconds=3600, timeout=6 * 3600)
        except OVFError as exc:
            raise errors.CimiError(str(exc)) from None
        os.unlink(raw)
        if result.format != self.ovf_format:
            raise errors.CimiError(f"conversion of disk {key} produced {result.format}, not {self.ovf_format}")
        capacity = max(info.capacity_bytes, result.virtualSize or 0)
        size = os.path.getsize(out)
        self.references.append(File(f"file{index}", member, size))
        self.disks.append(Disk(f"vmdisk{index}", capacity, self.ovf_format, DISK_FORMAT_URIS[self.ovf_format],
                               f"file{index}"))
        self.files.append((member, out))
        self.job.progress(min(90, 10 + 80 * len(self.files) // max(self.expected, 1)),
                          f"exported disk {index} of {self.expected}")

    def write(self, content, target):
        """Write the OVA to `target` (new; never overwritten)."""
        env = Envelope("1.0", self.references, self.disks, self.networks, [], content)
        try:
            write_ova(target, env, self.files, keepalive=getattr(self.job, "keepalive", None))
        except FileExistsError:
            raise errors.Conflict(f"{target.name} already exists in the export directory") from None


def _run(job, rows, content_of, default_name, network_ids=()):
    exported_packages.expire(job.ctx.cloud)          # old packages go before a new one takes room
    params = job.payload.get("params") or {}
    _options(params)
    target = destination_path(job.ctx.cloud, params.get("destination"), default_name)
    if target.exists():
        raise errors.Conflict(f"{target.name} already exists in the export directory")
    expected = sum(len(job.backend.machine(backend_key(r)).disks) for r in rows)
    exporter = _Exporter(job, params, tempfile.mkdtemp(prefix="cimi-export-", dir=job.ctx.cloud.config.data_dir),
                         expected)
    try:
        systems = [exporter.machine_system(row, n + 1) for n, row in enumerate(rows)]
        for network_id in network_ids:      # a System's networks, connected or not
            if store.find("Network", network_id):
                exporter.network(store.get("Network", network_id))
        for row in rows:                  # started while we copied: the copy may be torn
            if job.backend.machine(backend_key(row)).state != backend_model.STOPPED:
                raise errors.Conflict(f"Machine {row['id']} was started during the export")
        exporter.write(content_of(systems), target)
    except OVFError as exc:
        raise errors.CimiError(f"export produced an invalid disk: {exc}") from None
    finally:
        shutil.rmtree(exporter.work, ignore_errors=True)
    href = download_href(job.ctx, target.name)
    job.affect(href)
    job.affect(exported_packages.record(job, target, job.row["data"]["targetResource"]["href"], href))
    job.progress(100, f"exported to {href}")


def machine_export(job):
    row = store.get("Machine", job.payload["id"])
    _run(job, [row], lambda systems: systems[0], f"machine-{row['id']}-{job.row['id'][:8]}.ova")


def system_export(job):
    row = store.get("System", job.payload["id"])
    members = machines_of(row["id"])
    if not members:
        raise errors.Conflict(f"System {row['id']} has no Machine to export")

    def collection(systems):
        return VirtualSystemCollection(id=_safe_id(row["name"], "system"), name=row["name"] or row["id"],
                                       members=systems)
    networks = [link["data"]["_member"] for link in store.children("SystemNetwork", row["id"])]
    _run(job, members, collection, f"system-{row['id']}-{job.row['id'][:8]}.ova", networks)

