"""Volume and VolumeImage operations: block storage in the backend's pool.

A VolumeImage POSTed with a Volume's href as imageLocation is a snapshot of
that Volume (DSP0263 5.15.8.1): the Volume is CAPTURING while the backend
copies it, and AVAILABLE again afterwards, whatever the outcome.
"""
import backends
from backends import model
from cimi import errors, naming, registry, represent, store, templates
from cimi.ops import usage
from cimi.ops.attachments import attached_to
from cimi.ops.resources import Created, delete_backend_object

KIB = 1024
MAPPED = "http://schemas.dmtf.org/cimi/1/mapped"


def prepare(ctx, body, parent):
    """Check a Volume create request; the Job makes the volume in the pool."""
    template = templates.by_value(ctx, "VolumeTemplate", body["volumeTemplate"], "volumeTemplate")
    config = templates.by_value(ctx, "VolumeConfiguration", template.get("volumeConfig"), "volumeConfig")
    if not isinstance(config.get("capacity"), int) or config["capacity"] < 1:
        raise errors.BadRequest("volumeConfig needs a positive integer capacity (KiB)")
    usage.check_by_value(ctx, "volumeConfig", config)
    image = None
    if template.get("volumeImage"):
        image = templates.referenced(ctx, "VolumeImage", template["volumeImage"], ("AVAILABLE",), "volumeImage")
    data = {"type": config.get("type") or MAPPED, "capacity": config["capacity"],
            "bootable": bool(image and image["data"].get("bootable"))}
    return Created({"state": "CREATING", "data": data}, job=create,
                   payload={"image_key": image and image["data"].get("_key")})


def create(job):
    row = store.get("Volume", job.payload["id"])
    info = job.backend.create_volume(model.VolumeSpec(
        name=backend_name(row["id"]), capacity_bytes=row["data"]["capacity"] * KIB,
        image_key=job.payload.get("image_key")))
    store.update("Volume", row["id"], {"state": "AVAILABLE", "data": {**row["data"], "_key": info.key,
                                                                      "_host": info.host}})


def free(row):
    """Whether no Machine holds the Volume, as the store last recorded it (its `attachedTo`): delete is offered."""
    return not row["data"].get("attachedTo")


def check_delete(ctx, row):
    """Refuse while a Machine holds the Volume, in the store or in any domain, live or defined."""
    holders = set(attached_to(row["id"]))
    if row["data"].get("_key"):
        try:
            holders.update(naming.machine_id(name) or name
                           for name in ctx.cloud.backend.volume_holders(row["data"]["_key"]))
        except backends.BackendError as exc:
            raise errors.BackendFailure(exc) from None
    if holders:
        raise errors.Conflict(f"the Volume is held by {', '.join(sorted(holders))}; detach it first")
    return delete


def delete(job):
    delete_backend_object(job, "Volume", "delete_volume")


def delete_image(job):
    delete_backend_object(job, "VolumeImage", "delete_image")


def backend_name(row_id):
    return f"cimi-volume-{row_id}"


def refresh(ctx, row):
    """After a failed Job: a Volume not AVAILABLE is ERROR; a create cut short removes what it made.

    An interrupted create may have made the volume without recording its key:
    a DELETE would then leave its bytes in the pool for ever.
    """
    if row["state"] == "CREATING":
        ctx.cloud.backend.discard_volume(backend_name(row["id"]))
    if row["state"] != "AVAILABLE":
        store.update("Volume", row["id"], {"state": "ERROR"})


def prepare_snapshot(ctx, body, parent):
    """Check a snapshot request and mark its Volume CAPTURING; the Job copies it."""
    location = body.get("imageLocation")
    if not location:
        raise errors.BadRequest("imageLocation must name the Volume to snapshot")
    volume = templates.source(ctx, location, "Volume", ("AVAILABLE",), "snapshot")
    for machine_id in attached_to(volume["id"]):
        machine = store.find("Machine", machine_id)
        if machine and machine["state"] != "STOPPED":
            raise errors.Conflict(f"the Volume is attached to Machine {machine_id}, which is {machine['state']}; "
                                  "stop the Machine or detach the Volume first")
    try:
        store.update("Volume", volume["id"], {"state": "CAPTURING"}, version=volume["version"])
    except errors.PreconditionFailed:
        raise errors.Conflict("the Volume changed meanwhile; try again") from None
    bootable = body["bootable"] if isinstance(body.get("bootable"), bool) else bool(volume["data"].get("bootable"))
    return Created({"state": "CREATING", "data": {"imageLocation": location.strip(), "bootable": bootable,
                                                  "_volume": volume["id"]}},
                   job=snapshot)


def snapshot(job):
    row = store.get("VolumeImage", job.payload["id"])
    volume = store.get("Volume", row["data"]["_volume"])
    job.affect(represent.href(job.ctx, registry.get("Volume"), volume))
    try:
        info = job.backend.snapshot_volume(volume["data"]["_key"], f"cimi-volumeimage-{row['id']}")
        data = {**row["data"], "_key": info.key, "_bytes": info.capacity_bytes, "_format": info.format}
        store.update("VolumeImage", row["id"], {"state": "AVAILABLE", "data": data})
    finally:
        store.set_state("Volume", volume["id"], "AVAILABLE")


def snapshot_failed(ctx, row):
    """A failed snapshot leaves no VolumeImage behind, and its Volume AVAILABLE."""
    volume = store.find("Volume", row["data"].get("_volume") or "")
    if volume and volume["state"] == "CAPTURING":
        store.set_state("Volume", volume["id"], "AVAILABLE")
    if row["state"] == "CREATING":
        store.delete("VolumeImage", row["id"])
    else:
        store.update("VolumeImage", row["id"], {"state": "ERROR"})
