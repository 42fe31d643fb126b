"""Volume and VolumeImage: block storage in the backend's pool."""
from backends import model
from cimi import errors, jobs, store, templates
from cimi.crud import Created
from cimi.kinds.machine import KIB, attached_to
from cimi.registry import Kind, register

MAPPED = "http://schemas.dmtf.org/cimi/1/mapped"


def _create(ctx, body, parent):
    template = templates.by_value(ctx, "VolumeTemplate", body["volumeTemplate"], "volumeTemplate")
    config = templates.by_value(ctx, "VolumeConfiguration", template.get("volumeConfig"), "volumeConfig")
    if not isinstance(config.get("capacity"), int) or config["capacity"] < 1:
        raise errors.BadRequest("volumeConfig needs a positive integer capacity (KiB)")
    image = None
    if template.get("volumeImage"):
        image = templates.referenced(ctx, "VolumeImage", template["volumeImage"], ("AVAILABLE",), "volumeImage")
    data = {"type": config.get("type") or MAPPED, "capacity": config["capacity"],
            "bootable": bool(image and image["data"].get("bootable"))}
    return Created({"state": "CREATING", "data": data}, job="Volume.create",
                   payload={"image_key": image and image["data"].get("_key")})


@jobs.handler("Volume.create")
def _run_create(job):
    row = store.get("Volume", job.payload["id"])
    info = job.backend.create_volume(model.VolumeSpec(
        name=f"cimi-volume-{row['id']}", capacity_bytes=row["data"]["capacity"] * KIB,
        image_key=job.payload.get("image_key")))
    store.update("Volume", row["id"], {"state": "AVAILABLE", "data": {**row["data"], "_key": info.key}})


def _delete(ctx, row):
    if attached_to(row["id"]):
        raise errors.Conflict("detach the Volume from its Machine first")
    return "Volume.delete"


@jobs.handler("Volume.delete")
def _run_delete(job):
    row = store.get("Volume", job.payload["id"])
    if row["data"].get("_key"):
        job.backend.delete_volume(row["data"]["_key"])
    store.delete("Volume", row["id"])


def _error(ctx, row):
    store.update("Volume", row["id"], {"state": "ERROR"})


register(Kind("Volume", "volumes", create_schema="VolumeCreate", create=_create, delete=_delete, refresh=_error,
              deletable_states=frozenset({"AVAILABLE", "ERROR"}),
              capabilities=(("VolumeTemplateByValue", "true", "volumeTemplate may be given by value"),
                            ("VolumeConfigByValue", "true", "volumeConfig may be given by value"),
                            ("VolumeImageByValue", "false", "volumeImage must be a reference"),
                            ("SharedVolumeSupport", "false", "a Volume attaches to one Machine at a time"),
                            ("VolumeSnapshot", "false", "snapshots are not offered"))))
register(Kind("VolumeImage", "volumeImages", provider_only=True, deletable_states=frozenset({"AVAILABLE", "ERROR"})))
