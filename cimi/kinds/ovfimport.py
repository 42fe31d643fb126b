"""OVF import (DSP0263 4.3, Annex A): a package becomes a SystemTemplate and its parts.

Each leaf VirtualSystem yields a MachineConfiguration, a MachineImage (its first
disk, converted to qcow2), VolumeImages (its other disks) and a MachineTemplate;
each OVF network a Network component. Reading and checking the package is
ovf/'s job; this module maps its facts to CIMI rows and undoes everything when
any step fails, so nothing half-imported stays behind.
"""
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

import backends
from cimi import crud, errors, imagefiles, jobs, registry, represent, store
from cimi.vocabulary import type_uri
from ovf import disks as ovf_disks
from ovf.errors import OVFError
from ovf.hardware import resolve_hardware
from ovf.package import open_package

KIB = 1024
PACKAGE_TYPES = ("application/x-tar", "application/ova", "application/octet-stream")


def source_path(ctx, source):
    """Return the local package a `source` URI names, inside the import directory (else 400)."""
    root = Path(ctx.cloud.config.import_dir).resolve()
    parsed = urlparse((source or "").strip())
    if parsed.scheme not in ("", "file") or parsed.netloc not in ("", "localhost"):
        raise errors.BadRequest("source must be a file: URI or a path under the import directory "
                                f"({root}); this provider fetches nothing from the network")
    path = Path(unquote(parsed.path))
    path = (root / path).resolve() if not path.is_absolute() else path.resolve()
    if root not in path.parents or not path.is_file():
        raise errors.BadRequest(f"no package {source} in the import directory {root}")
    return path


def start_import(ctx, kind, body):
    """The `import` operation of the SystemTemplate collection: 202, a Job, the template's Location."""
    if not body.get("source"):
        raise errors.BadRequest("import needs a source (the package's URI)")
    path = source_path(ctx, body["source"])
    return _submit(ctx, kind, path, path.stem, body["source"].strip(), (body.get("properties") or {}).get("profile"))


def receive_package(ctx, kind, req):
    """A package POSTed as bytes to the SystemTemplate collection (a provider extension): import it.

    Query parameters: name (of the template), profile, sha256 (checked while
    streaming). The staged copy is removed once the import ends.
    """
    if not represent.can_add(ctx.user, kind):
        raise errors.Forbidden(f"you may not add {kind.name} resources")
    sha256 = imagefiles.checked_sha256(req.get_param("sha256"))
    limit = ctx.cloud.config.max_upload
    if req.content_length is not None and req.content_length > limit:
        raise errors.PayloadTooLarge(f"packages are limited to {limit} bytes")
    staged = imagefiles.staging_path(ctx.cloud.config)
    imagefiles.stage(req.bounded_stream.read, staged, limit, sha256)
    name = (req.get_param("name") or "uploaded package").strip()
    return _submit(ctx, kind, Path(staged), name, "upload", req.get_param("profile"), remove=True)


def _submit(ctx, kind, path, name, source, profile, remove=False):
    template = store.insert("SystemTemplate", {"owner": ctx.owner, "name": name,
                                               "description": f"imported from {path.name}",
                                               "data": {"importImage": source}})
    doc = represent.document(ctx, kind, template)
    job = jobs.submit(ctx, jobs.JobSpec(
        "SystemTemplate.import", represent.collection_href(ctx, kind), "import",
        {"id": template["id"], "path": str(path), "profile": profile, "remove": remove},
        [doc["id"]], ("SystemTemplate", template["id"])))
    return 202, doc, job


class _Undo:
    """What an import made, to remove if a later step fails."""

    def __init__(self, job):
        self.job, self.rows, self.images = job, [], []

    def row(self, kind_name, fields):
        row = store.insert(kind_name, {"owner": self.job.owner, **fields})
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


def _href(job, kind_name, row):
    return represent.href(job.ctx, registry.get(kind_name), row)


def _image(job, undo, package, drive, name, work):
    """Convert one disk file to qcow2 and store it in the backend; return its ImageInfo."""
    src = package.files[drive.fileRef]
    target = os.path.join(work, f"{name}.qcow2")
    info = ovf_disks.convert_to_qcow2(src, target, package.formats[drive.fileRef])
    image = job.backend.create_image(name, max(drive.capacityBytes or 0, info.virtualSize or 0),
                                     source_path=target, source_format="qcow2")
    undo.images.append(image.key)
    os.unlink(target)
    return image


def _machine_parts(job, undo, package, vs, profile, work, done, total):
    """Rows for one VirtualSystem; return its MachineTemplate row."""
    hw = resolve_hardware(package.envelope, vs, profile)
    name = vs.name or vs.id
    if not hw.memoryMiB or not hw.cpus:
        raise OVFError(f"VirtualSystem {vs.id} declares no CPU or memory")
    config = undo.row("MachineConfiguration", {"name": f"{name} ({profile or 'default'})", "data": {
        "cpu": hw.cpus, "memory": hw.memoryMiB * 1024, "cpuArch": "x86_64",
        "disks": [{"capacity": -(-(d.capacityBytes or 0) // KIB), "format": "raw",
                   "initialLocation": f"vd{chr(ord('a') + i)}"} for i, d in enumerate(hw.disks)]}})
    data = {"machineConfig": {"href": _href(job, "MachineConfiguration", config)}}
    for i, drive in enumerate(hw.disks):
        if not drive.fileRef:
            continue
        image = _image(job, undo, package, drive, f"cimi-ovf-{config['id']}-{i}", work)
        kind_name = "MachineImage" if i == 0 else "VolumeImage"
        row = undo.row(kind_name, {"name": f"{name} disk {drive.diskId}", "state": "AVAILABLE", "data": {
            "imageLocation": image.key, "_key": image.key, "_bytes": image.capacity_bytes, "_format": "qcow2",
            **({"type": "IMAGE"} if i == 0 else {"bootable": False})}})
        if i == 0:
            data["machineImage"] = {"href": _href(job, "MachineImage", row)}
        done[0] += os.path.getsize(package.files[drive.fileRef])
        job.progress(min(99, 100 * done[0] // max(total, 1)), f"imported {done[0]} of {total} bytes")
    if "machineImage" not in data:
        raise OVFError(f"VirtualSystem {vs.id} has no disk with content to boot from")
    properties = {f"ovf:{p.key}": p.default for p in vs.properties if p.default is not None and not p.password}
    properties.update({f"ovf:network:{n}": nic.network for n, nic in enumerate(hw.nics) if nic.network})
    return undo.row("MachineTemplate", {"name": name, "description": vs.id, "properties": properties, "data": data})


@jobs.handler("SystemTemplate.import")
def _run_import(job):
    work = tempfile.mkdtemp(prefix="cimi-import-", dir=job.ctx.cloud.config.data_dir)
    undo = _Undo(job)
    try:
        package = open_package(job.payload["path"], dest=work)
        env = package.envelope
        profile = job.payload.get("profile") or env.defaultProfile
        total = sum(os.path.getsize(p) for p in package.files.values())
        done = [0]
        components = [{"type": type_uri("Network"), "name": net.name, "networkTemplate": {
            "networkConfig": {"networkType": "PRIVATE"}}} for net in env.networks]
        for vs in env.virtualSystems():
            template = _machine_parts(job, undo, package, vs, profile, work, done, total)
            components.append({"type": type_uri("Machine"), "name": template["name"],
                               "machineTemplate": {"href": _href(job, "MachineTemplate", template)}})
        row = store.get("SystemTemplate", job.payload["id"])
        store.update("SystemTemplate", row["id"], {"data": {**row["data"], "componentDescriptors": components},
                                                   "properties": {"ovf:signature": package.signature.status,
                                                                  **({"ovf:profile": profile} if profile else {})}})
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
    crud.remove(registry.get("SystemTemplate"), row)
