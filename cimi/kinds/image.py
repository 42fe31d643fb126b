"""MachineImage: a blank or registered disk image, or a capture of a Machine (cimi/ops/images.py).

A POST whose imageLocation is a Machine captures it (DSP0263 5.14.7.1): a
clean copy when it is stopped, a crash-consistent one while it runs; one
whose imageLocation is a file: URI or path under the import directory
registers that file; a POST of the raw bytes (application/octet-stream,
`?name=`) uploads one (a provider extension, see the capabilities). Other
images are made by the provider (seeded) or by an OVF import.
"""
from cimi import errors, imagefiles, jobs, registry, represent, store
from cimi.ops import images
from cimi.registry import Kind, register
from cimi.store.links import KEEP, Link

OCTET_STREAM = "application/octet-stream"


def receive_upload(ctx, kind, upload):
    """POST of an image's raw bytes to the collection: stream them to data_dir, then register.

    Query parameters: name (required), description, sha256 (checked while
    streaming; 400 and nothing kept on a mismatch), format (qcow2, raw, vmdk).
    """
    if not represent.can_add(ctx.user, kind):
        raise errors.Forbidden(f"you may not add {kind.name} resources")
    name = (upload.params.get("name") or "").strip()
    if not name:
        raise errors.BadRequest("an image upload needs a name: POST ...?name=my-image")
    sha256 = imagefiles.checked_sha256(upload.params.get("sha256"))
    fmt = imagefiles.checked_format(upload.params.get("format"))
    staged, size, digest = imagefiles.receive(ctx.cloud.config, upload, "images", sha256)
    try:
        row = store.insert(kind.name, {
            "owner": ctx.owner, "name": name, "description": upload.params.get("description"),
            "properties": {"sha256": digest}, "state": "CREATING",
            "data": {"type": "IMAGE", "imageLocation": "upload", "_source": "upload", "_uploaded": size,
                     "_staged": staged}})
    except BaseException:
        imagefiles.remove(staged)
        raise
    doc = represent.document(ctx, kind, row)
    job = jobs.submit(ctx, jobs.JobSpec(registry.job_name(images.register), represent.collection_href(ctx, kind), "add",
                                        {"id": row["id"], "staged": staged, "format": fmt, "sha256": digest},
                                        [doc["id"]], (kind.name, row["id"])))
    return 202, doc, job


register(Kind("MachineImage", "machineImages", create_schema="MachineImage", create=images.prepare,
              delete=lambda ctx, row: images.delete, refresh=images.refresh,
              deletable_states=frozenset({"AVAILABLE", "ERROR", "CREATING"}),
              jobs={"capture": images.capture, "register": images.register, "delete": images.delete},
              uploads={OCTET_STREAM: receive_upload}, links=(Link("_machine", "Machine", KEEP),),
              metered={"bytes": "_bytes"},
              capabilities=(("ImageRegistration", "true",
                             "imageLocation may be a file: URI or path under the provider's import directory; "
                             "properties sha256 (checked) and format (qcow2, raw, vmdk) are optional"),
                            ("ImageUpload", "true",
                             f"provider extension: POST the raw bytes to this collection as {OCTET_STREAM} "
                             "with ?name= (and optional description=, sha256=, format=)"),
                            ("ImageFormats", "qcow2,raw,vmdk", "vmdk is converted to qcow2; backing files, "
                             "external data files and format mismatches are refused"))))
