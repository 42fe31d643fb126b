"""MachineImage: a blank or registered disk image, or a capture of a stopped Machine.

A POST whose imageLocation is a Machine captures it (DSP0263 5.14.7.1); every
other image is made by the provider (seeded) or by an OVF import.
"""
from cimi import db, errors, jobs, registry, represent, store
from cimi.crud import Created
from cimi.registry import Kind, register


def _create(ctx, body, parent):
    location = body.get("imageLocation")
    if not location:
        raise errors.BadRequest("imageLocation must name the Machine to capture")
    kind, machine = represent.resolve(ctx, location, "Machine")
    if not represent.can_write(ctx.user, kind, machine):
        raise errors.Forbidden("you may not capture this Machine")
    if machine["state"] != "STOPPED":
        raise errors.Conflict(f"capture needs a STOPPED Machine; this one is {machine['state']}")
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
    info = job.backend.capture_machine(machine["data"]["_key"], f"cimi-image-{row['id']}")
    data = {k: v for k, v in row["data"].items() if k != "_machine"}
    data.update({"imageLocation": info.key, "_key": info.key, "_bytes": info.capacity_bytes, "_format": info.format})
    store.update("MachineImage", row["id"], {"state": "AVAILABLE", "data": data})


@jobs.handler("MachineImage.delete")
def _run_delete(job):
    row = store.get("MachineImage", job.payload["id"])
    if row["data"].get("_key"):
        job.backend.delete_image(row["data"]["_key"])
    store.delete("MachineImage", row["id"])


def _delete(ctx, row):
    machines = db.model_for("Machine")
    if machines.select().where(machines.data.contains(f'"_image": "{row["id"]}"')).exists():
        raise errors.Conflict("Machines still use this image (their disks are overlays of it)")
    return "MachineImage.delete"


def refresh(ctx, row):
    store.update("MachineImage", row["id"], {"state": "ERROR"})


register(Kind("MachineImage", "machineImages", create_schema="MachineImage", create=_create, delete=_delete,
              refresh=refresh, deletable_states=frozenset({"AVAILABLE", "ERROR"})))
