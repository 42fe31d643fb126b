"""Events that no row change carries (what an admin did: set a quota, restored or purged a resource...), and a log's summary."""
from cimi.store import events


def record(ctx, operation, resource=None, owner=None, detail=None):
    """Record that an admin performed `operation` (an access Event in the provider's log and the owner's).

    ctx: the admin's Context (its user is the initiator); resource: the href
    acted on, if any; owner: the user affected (their log gets the Event too);
    detail: a sentence saying what changed. Called inside the caller's
    `store.transaction()`, it is kept or lost with the change it records.
    """
    content = {"operation": operation, "resource": {"href": resource} if resource else None, "detail": detail,
               "initiator": getattr(ctx.user, "name", None)}
    events.record(events.ACCESS, content, owners=(None, owner) if owner else (None,), outcome="Success")


def summary(ctx, row):
    """An EventLog's attributes computed at each read: its Events counted by severity (DSP0263 5.17.8)."""
    return {"summary": events.summary(row["id"])}
