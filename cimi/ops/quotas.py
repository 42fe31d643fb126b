"""The Quota resource (an extension, issue 15): one per user, one default; set by administrators.

A user's Quota row is owned by that user, so that they read it (and only
theirs); the default (owner None) is read by all. Enforcement: cimi/ops/usage.py.
"""
from cimi import errors, store
from cimi.ops.resources import Created
from cimi.ops.usage import KIND, applying, usage


def prepare(ctx, body, parent):
    """Check a Quota create request: one per user, one default; the user reads theirs as its owner."""
    user = body.get("user")
    if user is not None and not user.strip():
        raise errors.BadRequest("user must name a user (leave it out for the default Quota)")
    with store.owner_lock("quotas"):          # held to the end of the admin's transaction (PostgreSQL): no twin
        if store.owned(KIND, user):
            raise errors.Conflict(f"there is already a {'Quota of ' + user if user else 'default Quota'}; edit it")
    return Created({"owner": user, "data": body})


def shown(ctx, row):
    """The attributes read at each GET: the usage of the quota's user (on the default, of its reader)."""
    user = row["data"].get("user") or (None if ctx.admin else ctx.owner)
    return {"usage": usage(user)} if user else {}


def quarantine_retention(owner, collection):
    """Seconds a deleted resource of `collection` (machines, volumes, machineImages) is kept, or None."""
    row = applying(owner)
    return row and row["data"].get("quarantineRetention", {}).get(collection)
