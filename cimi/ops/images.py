"""MachineImage operations: capture a Machine, register an uploaded or local file, delete every copy.

A POST whose imageLocation is a Machine captures it (DSP0263 5.14.7.1): a
clean copy when it is stopped, a crash-consistent one while it runs; one
whose imageLocation is a file: URI or path under the import directory
registers that file.
"""
from cimi import errors, imagefiles, registry, represent, store, templates
from cimi.naming import backend_key
from cimi.ops import placement, sharing, usage
from cimi.ops.ovf_import import source_path
from cimi.ops.resources import Created
from cimi.store.sharing import EVERYONE


def _is_cimi_href(ctx, location):
    try:
        represent.parse_href(ctx, location)
    except errors.CimiError:
        return False
    return True


def prepare(ctx, body, parent):
    """Check a capture or registration request; the Job copies the disk."""
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
                   job=capture)


def capture(job):
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
    if (body.get("type") or "IMAGE").upper() != "IMAGE":
        raise errors.BadRequest("a registered image is of type IMAGE")
    # NOTE: resources.insert keeps properties (sha256, format) from create hooks; the Job reads them from the row.
    path = source_path(ctx, location)
    if path.stat().st_size > ctx.cloud.config.max_upload:
        raise errors.PayloadTooLarge(f"images are limited to {ctx.cloud.config.max_upload} bytes")
    return Created({"state": "CREATING", "data": {"type": "IMAGE", "imageLocation": location.strip(),
                                                  "_source": "file"}},
                   job=register, payload={"path": str(path)})


def register(job):
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


def delete(job):
    row = store.get("MachineImage", job.payload["id"])
    remove_copies(job.backend, row)
    if row["data"].get("_staged"):                     # an upload cancelled before it was stored
        imagefiles.remove(row["data"]["_staged"])
    store.delete("MachineImage", row["id"])


def remove_copies(backend, row):
    """Delete an image's bytes: every host's copy."""
    if row["data"].get("_key"):
        for key in set(placement.image_keys(row, None).values()) | {row["data"]["_key"]}:
            backend.delete_image(key)



def refresh(ctx, row):
    """A failed capture shows ERROR; a failed registration leaves nothing behind."""
    if row["state"] == "CREATING" and row["data"].get("_source"):
        store.delete("MachineImage", row["id"])
        return
    store.update("MachineImage", row["id"], {"state": "ERROR"})


def receive_upload(ctx, upload):
    """POST of an image's raw bytes to the collection: stream them to data_dir; the Job registers them.

    Query parameters: name (required), description, sha256 (checked while
    streaming; 400 and nothing kept on a mismatch), format (qcow2, raw, vmdk),
    public (true: shared read-only with everyone, cimi/ops/sharing.py).
    """
    name = (upload.params.get("name") or "").strip()
    if not name:
        raise errors.BadRequest("an image upload needs a name: POST ...?name=my-image")
    sha256 = imagefiles.checked_sha256(upload.params.get("sha256"))
    fmt = imagefiles.checked_format(upload.params.get("format"))
    public = (upload.params.get("public") or "false").strip().lower()
    if public not in ("true", "false"):
        raise errors.BadRequest(f"public={public!r}: give true or false")
    acl = {"acl": sharing.checked(ctx.owner, {"rules": [{"principal": EVERYONE, "right": "VIEW"}]})} \
        if public == "true" else {}
    usage.precheck(ctx, lambda: usage.demand(ctx, "MachineImage", {}, {}))      # before the bytes, not only after
    staged, size, digest = imagefiles.receive(ctx.cloud.config, upload, "images", sha256)
    return Created({"name": name, "description": upload.params.get("description"),
                    "properties": {"sha256": digest}, "state": "CREATING",
                    "data": {"type": "IMAGE", "imageLocation": "upload", "_source": "upload", "_uploaded": size,
                             "_staged": staged, **acl}},
                   job=register, payload={"staged": staged, "format": fmt, "sha256": digest},
                   discard=lambda: imagefiles.remove(staged))
