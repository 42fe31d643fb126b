"""Quarantine: deleted Machines, Volumes and MachineImages kept for a while (StratusLab's disk quarantine).

When the retention of its collection is above 0 (the server's
--quarantine-retention, or its owner's Quota), a DELETE moves a resource into
a QuarantinedResource entry of the same id instead of removing it: the entry
keeps its row and its sub-resources' rows, the backend keeps its data (a
Machine's domain is undefined, its disks stay), its href answers 404 and no
usage counts it. `restore` puts the rows back under the same ids, in a stable
state (a Machine STOPPED, with the Volumes it had attached that are still
free); `purge`, and `expire` in the reconciliation loop, remove the data for good.
"""
import datetime
import logging

import backends
from cimi import errors, registry, represent, store
from cimi.naming import backend_key
from cimi.ops import attachments, images, machines, quotas
from cimi.vocabulary import type_uri

log = logging.getLogger(__name__)
KIND = "QuarantinedResource"
KIB = 1024
# The sub-resources a Machine's entry keeps and restores; its MachineVolumes are released, as by a delete,
# and attached again at a restore when their Volumes are still free.
MACHINE_CHILDREN = ("Disk", "MachineNetworkInterface", "NetworkPort")
RESTORED_STATES = {"Machine": "STOPPED", "Volume": "AVAILABLE", "MachineImage": "AVAILABLE"}
_FORGOTTEN = ("statusMessage", "_domain", "vnc")     # what a restored Machine's row does not carry over


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _stamp(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def retention(cloud, owner, collection):
    """Seconds a deleted resource of `collection` owned by `owner` stays in quarantine (0: none)."""
    own = quotas.quarantine_retention(owner, collection)
    return cloud.config.quarantine_retention.get(collection, 0) if own is None else own


def instead(ctx, collection, row, operation):
    """The operation deleting a row: its quarantine when the owner's retention is above 0, else `operation`."""
    if retention(ctx.cloud, row["owner"], collection) <= 0:
        return operation
    if collection != "machines" and not row["data"].get("_key"):
        return operation                                    # no bytes were ever made: nothing to keep
    return KEEPERS[collection]


# --- into quarantine (the delete Jobs) ---------------------------------------------------

def _plain(row):
    """A row as JSON data (its times as the store writes them)."""
    return {**row, "created": str(row["created"]), "updated": str(row["updated"])}


def _enter(job, kind_name, row, size, children=(), kept=None, attached=()):
    """Record the entry of a row (once: a retried Job finds it) and remove the row."""
    kind = registry.get(kind_name)
    if store.find(KIND, row["id"]) is None:
        now = _now()
        seconds = retention(job.ctx.cloud, row["owner"], kind.collection)
        # a provider-owned resource's entry is its deleter's (an admin's): not everyone's to read
        store.insert(KIND, {
            "id": row["id"], "owner": row["owner"] or job.owner, "name": row["name"], "description": row["description"],
            "state": "QUARANTINED",
            "data": {"resourceType": type_uri(kind_name), "resource": {"href": represent.href(job.ctx, kind, row)},
                     "owner": row["owner"], "size": size, "quarantined": _stamp(now),
                     "expires": _stamp(now + datetime.timedelta(seconds=seconds)), "_kind": kind_name,
                     "_rows": [[kind_name, _plain(row)]] + [[name, _plain(r)] for name, r in children],
                     "_kept": kept, "_attached": list(attached)}})


def keep_machine(job):
    """Undefine the Machine's domain but keep its disks; a Machine without a domain is simply deleted."""
    row = store.get("Machine", job.payload["id"])
    try:
        kept = job.backend.keep_machine(backend_key(row))
    except backends.NotFound:
        return machines.delete(job)
    children = [(name, child) for name in MACHINE_CHILDREN for child in store.children(name, row["id"])]
    size = sum(child["data"].get("capacity", 0) for name, child in children if name == "Disk") * KIB
    attached = [[mv["data"]["_volume"], mv["data"].get("initialLocation")]
                for mv in store.children("MachineVolume", row["id"])]
    _enter(job, "Machine", row, size, children, kept, attached)
    machines.forget(job, row)


def keep_volume(job):
    row = store.get("Volume", job.payload["id"])
    _enter(job, "Volume", row, row["data"].get("capacity", 0) * KIB)
    store.delete("Volume", row["id"])


def keep_image(job):
    row = store.get("MachineImage", job.payload["id"])
    _enter(job, "MachineImage", row, row["data"].get("_bytes", 0))
    store.delete("MachineImage", row["id"])


KEEPERS = {"machines": keep_machine, "volumes": keep_volume, "machineImages": keep_image}


# --- out of quarantine ----------------------------------------------------------------------

def check_restore(ctx, entry, params):
    """Refuse (409) a restore that would conflict: its id taken again, or what a Machine needs gone."""
    kind_name, rows = entry["data"]["_kind"], entry["data"]["_rows"]
    if store.find(kind_name, entry["id"]) is not None:
        raise errors.Conflict(f"a {kind_name} {entry['id']} exists again; it cannot be restored over")
    if kind_name != "Machine":
        return
    image = rows[0][1]["data"].get("_image")
    if image and store.find("MachineImage", image) is None:
        raise errors.Conflict(f"the Machine's disks are overlays of MachineImage {image}, which is gone "
                              "(restore it first if it is in quarantine)")
    for name, child in rows[1:]:
        network = (child["data"].get("network") or {}).get("href", "")
        if name == "MachineNetworkInterface" and store.find("Network", network.rsplit("/", 1)[-1]) is None:
            raise errors.Conflict(f"the Machine's Network {network} is gone")


def restore(job):
    """Put the rows back under their ids (the Machine's domain defined again), then drop the entry."""
    entry = store.get(KIND, job.payload["id"])
    kind_name, rows = entry["data"]["_kind"], entry["data"]["_rows"]
    check_restore(job.ctx, entry, {})                       # what changed since the request was accepted
    info = job.backend.restore_machine(entry["data"]["_kept"]) if kind_name == "Machine" else None
    row = rows[0][1]
    data = {k: v for k, v in row["data"].items() if k not in _FORGOTTEN}
    # a version above the last one served: no cached document of the deleted row is reused
    store.insert(kind_name, {**row, "state": RESTORED_STATES[kind_name], "version": row["version"] + 1,
                             "data": data})
    for name, child in rows[1:]:
        store.insert(name, child)
    if info is not None:
        machines.seen(store.get("Machine", row["id"]), info)
    _reattach(job, row["id"], entry["data"].get("_attached") or ())
    store.delete(KIND, entry["id"])


def _reattach(job, machine_id, attached):
    """Attach a restored Machine's Volumes again where they are still there and free; say which are not."""
    left = []
    for volume_id, location in attached:
        volume, holders = store.find("Volume", volume_id), attachments.attached_to(volume_id)
        if machine_id in holders:
            continue                                        # attached by an earlier try of this Job
        if volume is None or volume["state"] != "AVAILABLE" or holders:
            left.append(volume["name"] or volume_id if volume else volume_id)
            continue
        attachments.attach(job, machine_id, volume_id, location)
    if left:
        job.progress(100, f"restored without Volumes no longer free: {', '.join(left)}")


def drop(backend, entry):
    """Remove an entry's data from the backend for good."""
    kind_name, row = entry["data"]["_kind"], entry["data"]["_rows"][0][1]
    if kind_name == "Machine":
        backend.drop_machine(entry["data"]["_kept"])
    elif kind_name == "Volume":
        backend.delete_volume(row["data"]["_key"])
    else:
        images.remove_copies(backend, row)


def purge(job):
    entry = store.get(KIND, job.payload["id"])
    drop(job.backend, entry)
    store.delete(KIND, entry["id"])


def settle(ctx, entry):
    """After a failed restore or purge: the entry is QUARANTINED again (its data is where it was)."""
    store.set_state(KIND, entry["id"], "QUARANTINED")


def expire(cloud, now=None):
    """Purge the entries whose retention has passed; return how many (one the backend refuses waits)."""
    now = _stamp(now or _now())
    gone = 0
    for entry in store.all_rows(KIND):
        if entry["state"] != "QUARANTINED" or entry["data"]["expires"] > now:
            continue
        try:
            drop(cloud.backend, entry)
        except backends.BackendError as exc:
            log.warning("quarantined %s not purged yet: %s", entry["data"]["resource"]["href"], exc)
            continue
        store.delete(KIND, entry["id"])
        gone += 1
    return gone
