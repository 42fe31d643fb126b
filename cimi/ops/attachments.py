"""MachineVolume operations: attaching a Volume to a Machine, detaching it, settling both after a crash."""
import logging
import re

import backends
from cimi import errors, registry, represent, store, templates
from cimi.naming import backend_key
from cimi.ops.resources import Created

log = logging.getLogger(__name__)


def attached_to(volume_id):
    """Return the ids of the machines a volume is attached to."""
    held = [store.find("MachineVolume", r.id) for r in store.referrers("Volume", volume_id, "MachineVolume", "_volume")]
    return [row["parent"] for row in held if row is not None]


def device(location):
    """Map a CIMI initialLocation to the target to ask for, or None to let the backend pick.

    The name's prefix says the bus (`disk_target`): "/dev/vdb" virtio, "/dev/sdf"
    SCSI, "/dev/hdb" IDE. "/dev/xvdb" (Xen's) is a hint the backend cannot honour:
    it picks a free virtio disk. The MachineVolume shows the client's text either
    way (`attachment`). Anything else is not a disk name.
    """
    if not location:
        return None
    name = location.strip().removeprefix("/dev/")
    if re.fullmatch(r"(vd|sd)[a-z]{1,2}|hd[a-d]", name):
        return name
    if re.fullmatch(r"xvd[a-z]{1,2}", name):
        return None
    raise errors.BadRequest(f"initialLocation {location!r} is not a disk name such as /dev/vdb, /dev/sdb (SCSI) "
                            "or /dev/hdb (IDE)")


def attachment(location, target):
    """The MachineVolume data of an attachment: the client's initialLocation as given, the backend's device apart.

    Clients compare initialLocation with what they sent ("/dev/sdf"); the
    backend's name ("sdf") is what detach and reconciliation need.
    """
    return {"initialLocation": (location or "").strip() or target, "_device": target}


def attach(job, machine_id, volume_id, location, bus=None):
    machine, volume = store.get("Machine", machine_id), store.get("Volume", volume_id)
    target = job.backend.attach_volume(backend_key(machine), volume["data"]["_key"], device(location), bus)
    href = represent.href(job.ctx, registry.get("Volume"), volume)
    row = store.insert("MachineVolume", {"owner": machine["owner"], "parent": machine_id,
                                         "data": {**attachment(location, target), "volume": {"href": href},
                                                  "_volume": volume_id}})
    record_holder(job.ctx, volume_id, machine)
    return row


def record_holder(ctx, volume_id, machine=None):
    """Show on the Volume which Machine holds it (its `attachedTo` extension), or that none does."""
    volume = store.find("Volume", volume_id)
    if volume is None:
        return
    data = {k: v for k, v in volume["data"].items() if k != "attachedTo"}
    if machine is not None:
        data["attachedTo"] = {"href": represent.href(ctx, registry.get("Machine"), machine)}
    store.update("Volume", volume_id, {"data": data})


def prepare(ctx, body, parent):
    """Check an attach request (the Volume free, on the Machine's host); the Job attaches it."""
    if parent["state"] not in ("STARTED", "STOPPED"):
        raise errors.Conflict(f"volumes attach to STARTED or STOPPED machines, not {parent['state']}")
    volume = templates.referenced(ctx, "Volume", body.get("volume"), ("AVAILABLE",), "volume")
    if attached_to(volume["id"]):
        raise errors.Conflict(f"Volume {volume['id']} is already attached")
    if volume["data"].get("_host") not in (None, parent["data"].get("host")):
        raise errors.Conflict(f"the Volume lives on {volume['data']['_host']} and the Machine on "
                              f"{parent['data'].get('host')}; a Volume attaches on its own host")
    location = body.get("initialLocation")
    return Created({"data": {"volume": body["volume"], "_volume": volume["id"],
                             **attachment(location, device(location))}},
                   job=create)


def create(job):
    row = store.get("MachineVolume", job.payload["id"])
    machine = store.get("Machine", row["parent"])
    volume = store.get("Volume", row["data"]["_volume"])
    target = job.backend.attach_volume(backend_key(machine), volume["data"]["_key"], row["data"].get("_device"))
    store.update("MachineVolume", row["id"], {"data": {**row["data"],
                                                       **attachment(row["data"].get("initialLocation"), target)}})
    record_holder(job.ctx, volume["id"], machine)


def delete(job):
    row = store.get("MachineVolume", job.payload["id"])
    machine = store.get("Machine", row["parent"])
    volume = store.get("Volume", row["data"]["_volume"])
    job.backend.detach_volume(backend_key(machine), volume["data"]["_key"], job.ctx.cloud.config.detach_timeout)
    store.delete("MachineVolume", row["id"])
    record_holder(job.ctx, volume["id"])


def settle_attachment(ctx, row):
    """After an attach or detach failed or was cut short: keep the MachineVolume iff the machine holds the Volume.

    The backend first makes the machine's definition agree with its running
    self (cimi/backends: `volume_attachment`), so the store, the definition
    and the running domain end up telling one story: the operation is
    finished or undone, whichever the hypervisor shows.
    """
    machine = store.find("Machine", row["parent"])
    volume = store.find("Volume", row["data"].get("_volume") or "")
    target = None
    if machine is not None and volume is not None and volume["data"].get("_key"):
        try:
            target = ctx.cloud.backend.volume_attachment(backend_key(machine), volume["data"]["_key"])
        except backends.NotFound:
            target = None
    if target is None:
        if row["state"] != "DELETING":
            log.warning("Machine %s does not hold Volume %s: the attachment goes",
                        row["parent"], row["data"].get("_volume"))
        store.delete("MachineVolume", row["id"])
    else:
        store.update("MachineVolume", row["id"], {"state": None, "data": {
            **row["data"], **attachment(row["data"].get("initialLocation") if row["data"].get("_device") else None,
                                        target)}})
    if volume is not None:
        record_holder(ctx, volume["id"], machine if target else None)
