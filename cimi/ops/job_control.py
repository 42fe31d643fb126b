"""Job operations: stopping a Job before a worker took it."""
from cimi import store
from cimi.represent import iso
from cimi.store import jobs as claims


def stop(ctx, row, params):
    """Stop a job that has not started (running handlers are not interruptible)."""
    if claims.change_state(row["id"], "STOPPED", ("QUEUED",)):
        store.update("Job", row["id"], {"data": {**row["data"], "progress": 100, "timeOfStatusChange": iso(store.utcnow()),
                                                 "statusMessage": "stopped before it ran"}})
