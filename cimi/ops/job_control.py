"""Job operations: stopping a Job before a worker took it."""
from cimi import store
from cimi.represent import iso
from cimi.store import db


def stop(ctx, row, params):
    """Stop a job that has not started (running handlers are not interruptible)."""
    model = db.model_for("Job")
    if model.update(state="STOPPED").where((model.id == row["id"]) & (model.state == "QUEUED")).execute():
        store.update("Job", row["id"], {"data": {**row["data"], "progress": 100, "timeOfStatusChange": iso(db.utcnow()),
                                                 "statusMessage": "stopped before it ran"}})
