"""Job: read-only progress records; queued ones can be stopped, finished ones deleted."""
from cimi import store
from cimi.store import db, jobs as claims
from cimi.jobs import FINAL
from cimi.represent import iso
from cimi.registry import Action, Kind, register
from cimi.store.links import KEEP, Link


def _stop(ctx, row, params):
    """Stop a job that has not started (running handlers are not interruptible)."""
    if claims.change_state(row["id"], "STOPPED", ("QUEUED",)):
        store.update("Job", row["id"], {"data": {**row["data"], "progress": 100, "timeOfStatusChange": iso(db.utcnow()),
                                                 "statusMessage": "stopped before it ran"}})


register(Kind("Job", "jobs", editable=False, deletable_states=frozenset(FINAL), links=(Link("_target", None, KEEP),),
              actions={"stop": Action("stop", frozenset({"QUEUED"}), immediate=_stop)},
              capabilities=(("JobRetention", "10080", "minutes a finished Job is kept at least"),)))
