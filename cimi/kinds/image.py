"""MachineImage: a blank or registered disk image, or a capture of a Machine.

A POST whose imageLocation is a Machine captures it (DSP0263 5.14.7.1): a
clean copy when it is stopped, a crash-consistent one while it runs; one
whose imageLocation is a file: URI or path under the import directory
registers that file; a POST of the raw bytes (application/octet-stream,
`?name=`) uploads one (a provider extension, see the capabilities). Other
images are made by the provider (seeded) or by an OVF import.
"""
from cimi import errors, imagefiles, jobs, placement, registry, represent, store, templates
from cimi.crud import Created
from cimi.kinds.machine import backend_key
from cimi.registry import Kind, register
from cimi.store.links import KEEP, Link

OCTET_STREAM = "application/octet-stream"


def _is_cimi_href(ctx, location):
    try:
        represent.parse_href(ctx, location)
    except errors.CimiError:
        return False
    return True


def _create(ctx, body, parent):
    location = body.get("imageLocation")
    if not location:
        raise errors.BadRequest("imageLocation must name the Machine to capture or the image file to register")
    if not _is_cimi_href(ctx, location):
        return _register(ctx, body, location)
    machine = templates.source(ctx, location, "Machine", registry.get("Machine").actions["capture"].from_states,
                               "capture")
    kind_of_image = (body.get("type") or "IMAGE").upper()
    if kind_of_image != "IMAGE":
        raise errors.BadRequest("only type IMAGE captures are offered (no snapshots)")
    return Created({"state": "CREATING", "data": {"type": "IMAGE", "imageLocation": location,
                                                  "_machine": machine["id"]}},
                   job="MachineImage.capture")


@jobs.handler("MachineImage.capture")
def _run_capture(job):
    row = store.get("MachineImage", job.payload["id"])
    machine = store.get("Machine", row["data"]["_machine"])
    job.affect(represent.href(job.ctx, registry.get("Machine"), machine))
    info = job.backend.capture_machine(backend_key(machine), f"cimi-image-{row['id']}")
    data = {k: v for k, v in row["data"].items() if k != "_machine"}
    data.update({"imageLocation": info.key, "_key": info.key, "_bytes": info.capacity_bytes, "_format": info.format,
                 "_hosts": {info.host: info.key}})             # made on the machine's host
    store.update("MachineImage", row["id"], {"state": "AVAILABLE", "data": data})


def _register(ctx, body, location):
    """Register a file under the import directory (the Job copies, checks and stores it)."""
    from cimi.kinds.ovfimport import source_path
    if (body.get("type") or "IMAGE").upper() != "IMAGE":
        raise errors.BadRequest("a registered image is of type IMAGE")
    # NOTE: crud.insert keeps properties (sha256, format) from create hooks; the Job reads them from the row.
    path = source_path(ctx, location)
    if path.stat().st_size > ctx.cloud.config.max_upload:
        raise errors.PayloadTooLarge(f"images are limited to {ctx.cloud.config.max_upload} bytes")
    return Created({"state": "CREATING", "data": {"type": "IMAGE", "imageLocation": location.strip(),
                                                  "_source": "file"}},
                   job="MachineImage.register", payload={"path": str(path)})


def receive_upload(ctx, kind, req):
    """POST of an image's raw bytes to the collection: stream them to data_dir, then register.

    Query parameters: name (required), description, sha256 (checked while
    streaming; 400 and nothing kept on a mismatch), format (qcow2, raw, vmdk).
    """
    if not represent.can_add(ctx.user, kind):
        raise errors.Forbidden(f"you may not add {kind.name} resources")
    name = (req.get_param("name") or "").strip()
    if not name:
        raise errors.BadRequest("an image upload needs a name: POST ...?name=my-image")
    sha256 = imagefiles.checked_sha256(req.get_param("sha256"))
    fmt = imagefiles.checked_format(req.get_param("format"))
    staged, size, digest = imagefiles.receive(ctx.cloud.config, req, "images", sha256)
    try:
        row = store.insert(kind.name, {
            "owner": ctx.owner, "name": name, "description": req.get_param("description"),
            "properties": {"sha256": digest}, "state": "CREATING",
            "data": {"type": "IMAGE", "imageLocation": "upload", "_source": "upload", "_uploaded": size,
                     "_staged": staged}})
    except BaseException:
        imagefiles.remove(staged)
        raise
    doc = represent.document(ctx, kind, row)
    job = jobs.submit(ctx, jobs.JobSpec("MachineImage.register", represent.collection_href(ctx, kind), "add",
                                        {"id": row["id"], "staged": staged, "format": fmt, "sha256": digest},
                                        [doc["id"]], (kind.name, row["id"])))
    return 202, doc, job


@jobs.handler("MachineImage.register")
def _run_register(job):
    p = job.payload
    row = store.get("MachineImage", p["id"])
    config = job.ctx.cloud.config
    staged = p.get("staged")
    try:
        if staged is None:
            declared = row["properties"] or {}
            sha256 = imagefiles.checked_sha256(declared.get("sha256"))
            p["format"] = imagefiles.checked_format(declared.get("format"))
            staged = imagefiles.staging_path(config)
            job.progress(0, "copying and checking the image file")
            size, digest = imagefiles.stage_file(p["path"], staged, config.max_upload, sha256,
                                                 keepalive=job.keepalive)
        else:
            size, digest = row["data"].get("_uploaded"), p["sha256"]
        job.progress(50, f"checked {size} bytes (sha256 {digest}); storing the image")
        job.checkpoint()
    except BaseException:
        if staged:
            imagefiles.remove(staged)
        raise
    info = imagefiles.register(job.backend, f"cimi-image-{row['id']}", staged, p.get("format"))
    data = {k: v for k, v in row["data"].items() if k not in ("_source", "_uploaded", "_staged")}
    data.update({"imageLocation": info.key, "_key": info.key, "_bytes": info.capacity_bytes, "_format": info.format,
                 "_hosts": {info.host: info.key}})             # made on the machine's host
    store.update("MachineImage", row["id"], {"state": "AVAILABLE", "data": data,
                                             "properties": {**row["properties"], "sha256": digest}})


@jobs.handler("MachineImage.delete")
def _run_delete(job):
    row = store.get("MachineImage", job.payload["id"])
    if row["data"].get("_key"):
        for key in set(placement.image_keys(row, None).values()) | {row["data"]["_key"]}:
            job.backend.delete_image(key)              # every host's copy
    if row["data"].get("_staged"):                     # an upload cancelled before it was stored
        imagefiles.remove(row["data"]["_staged"])
    store.delete("MachineImage", row["id"])


def _delete(ctx, row):
    return "MachineImage.delete"           # Machines using it block it (their disks are overlays of it)


def refresh(ctx, row):
    """A failed capture shows ERROR; a failed registration leaves nothing behind."""
    if row["state"] == "CREATING" and row["data"].get("_source"):
        store.delete("MachineImage", row["id"])
        return
    store.update("MachineImage", row["id"], {"state": "ERROR"})


register(Kind("MachineImage", "machineImages", create_schema="MachineImage", create=_create, delete=_delete,
              refresh=refresh, deletable_states=frozenset({"AVAILABLE", "ERROR", "CREATING"}),
              uploads={OCTET_STREAM: receive_upload}, links=(Link("_machine", "Machine", KEEP),),
              capabilities=(("ImageRegistration", "true",
                             "imageLocation may be a file: URI or path under the provider's import directory; "
                             "properties sha256 (checked) and format (qcow2, raw, vmdk) are optional"),
                            ("ImageUpload", "true",
                             f"provider extension: POST the raw bytes to this collection as {OCTET_STREAM} "
                             "with ?name= (and optional description=, sha256=, format=)"),
                            ("ImageFormats", "qcow2,raw,vmdk", "vmdk is converted to qcow2; backing files, "
                             "external data files and format mismatches are refused"))))
