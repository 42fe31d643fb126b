"""What users consume, and the quotas that limit it, checked where resources are added (issue 15).

The limits count what an owner has now, read from the rows themselves, so
nothing is booked twice and nothing drifts: a Machine counts its vCPUs,
memory and the disks its configuration asked for; a Volume its capacity; a
MachineImage one. The check and the insert run in one transaction under a
per-owner lock (store.owner_lock), so concurrent requests cannot overshoot
together. Administrators are not limited.
"""
import contextlib

from cimi import errors, registry, store

KIND = "Quota"
LIMITS = ("cpu", "memory", "volumeCapacity", "machines", "volumes", "machineImages")
COUNTED = ("Machine", "Volume", "MachineImage")


def applying(user):
    """Return the Quota row that limits a user (their own, else the default; None: the default), or None."""
    for owner in (user, None):
        rows = store.owned(KIND, owner)
        if rows:
            return rows[0]
    return None


def consumption(kind_name, data):
    """What one resource of a kind with these attributes consumes."""
    if kind_name == "Machine":
        return {"machines": 1, "cpu": data.get("cpu", 0), "memory": data.get("memory", 0),
                "volumeCapacity": data.get("_diskCapacity", 0)}
    if kind_name == "Volume":
        return {"volumes": 1, "volumeCapacity": data.get("capacity", 0)}
    return {"machineImages": 1}


def usage(owner):
    """What an owner has now (quarantined resources have left their tables: cimi/ops/quarantine.py)."""
    total = dict.fromkeys(LIMITS, 0)
    for kind_name in COUNTED:
        for row in store.owned(kind_name, owner):
            for name, amount in consumption(kind_name, row["data"]).items():
                total[name] += amount
    return total


def demand(ctx, kind_name, data, payload):
    """What adding a resource asks for: itself, and the Volumes a Machine's Job will make."""
    asked = {**dict.fromkeys(LIMITS, 0), **consumption(kind_name, data)}
    if kind_name == "Machine":
        for made in payload.get("volumeTemplates", ()):
            config = registry.get("Volume").create(ctx, {"volumeTemplate": made["volumeTemplate"]}, None).fields["data"]
            asked["volumes"] += 1
            asked["volumeCapacity"] += config["capacity"]
    return asked


def check(owner, asked):
    """Refuse (403) a demand the owner's quota does not leave room for, naming the quota."""
    quota = applying(owner)
    if quota is None:
        return
    have = usage(owner)
    for name in LIMITS:
        limit = quota["data"].get(name)
        if limit is not None and asked.get(name) and have[name] + asked[name] > limit:
            whose = owner if quota["data"].get("user") else f"{owner} (the default)"
            raise errors.Forbidden(f"quota {name} of {whose}: {have[name]} in use + {asked[name]} asked > {limit}")


def _limited(ctx, kind_name, owner):
    return kind_name in COUNTED and owner is not None and not ctx.admin


def precheck(ctx, asking):
    """Refuse at once what a request will make but its Job adds (a System's components, an upload's image).

    asking(): the demand, computed only when a quota applies. Each insert checks
    again, under the lock: this one refuses before the Job or the transfer.
    """
    if not ctx.admin and ctx.owner is not None and applying(ctx.owner) is not None:
        check(ctx.owner, asking())


@contextlib.contextmanager
def admitted(ctx, kind_name, fields, payload):
    """Run the insert of a new resource inside this if its owner's quota leaves room for it (else 403)."""
    owner = fields.get("owner")
    if not _limited(ctx, kind_name, owner):
        yield
        return
    asked = demand(ctx, kind_name, fields.get("data", {}), payload)
    with store.owner_lock(owner):
        check(owner, asked)
        yield


# --- configurations by value -------------------------------------------------------------

BOUNDS = {"machineConfig": ("cpu", "memory"), "volumeConfig": ("capacity",)}


def check_by_value(ctx, what, config):
    """Refuse (403) a non-administrator's configuration given by value beyond the bounds of their quota.

    what: "machineConfig" or "volumeConfig"; config: as templates.by_value returned it
    (a reference carries `_row`: one to a provider's configuration is not limited; a user's
    own, which an OVF import makes, is limited as if given by value).
    """
    if ctx.admin or "_row" in config and config["_row"]["owner"] is None:
        return
    quota = applying(ctx.owner)
    bounds = (quota and quota["data"].get("byValue")) or {}
    if bounds.get(what) is False:
        raise errors.Forbidden(f"{what} by value is not allowed for {ctx.owner}: name a provider's configuration")
    for name in BOUNDS[what]:
        bound = bounds.get(name)
        if bound is not None and isinstance(config.get(name), int) and config[name] > bound:
            raise errors.Forbidden(f"bound byValue.{name} of {ctx.owner}: "
                                   f"{what} by value asks {config[name]} > {bound}")
