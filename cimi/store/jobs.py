"""The Job columns workers claim with: conditional updates, so that front ends never run a job twice.

Each function is one or two statements whose WHERE clause is the guard: a
worker that loses a race changes nothing and is told so.
"""
import json

from cimi import store
from cimi.store import db, events, links

ACTIVE = ("RUNNING", "STOPPING")


def _jobs():
    return db.model_for("Job")


def worker_columns(job_id):
    """Return (handler name, payload) of a job (the columns rows leave out)."""
    record = _jobs().get_by_id(job_id)
    return record.handler, json.loads(record.payload or "{}")


def claim(worker_id, lease_until):
    """Claim the oldest QUEUED job (or one cancelled before it ran) for a worker; return its id or None.

    A cancelled job is claimed STOPPING: its handler stops at its first checkpoint.
    """
    model = _jobs()
    waiting = (model.state == "QUEUED") | ((model.state == "STOPPING") & model.worker.is_null())
    # NOTE: the candidates are read in full first: an UPDATE issued while a SELECT
    # cursor is open upgrades SQLite's read lock and fails at once with "locked".
    candidates = [(r.id, r.state) for r in model.select(model.id, model.state).where(waiting)
                  .order_by(model.created).limit(8)]
    for job_id, state in candidates:
        with db.write_transaction():
            claimed = (model.update(state="RUNNING" if state == "QUEUED" else state, worker=worker_id,
                                    lease_until=lease_until, version=model.version + 1)
                       .where((model.id == job_id) & (model.state == state) & model.worker.is_null()).execute())
            if claimed:
                _record(job_id, state)
        if claimed:
            return job_id
    return None


def _locked_state(job_id):
    model = _jobs()
    return db.for_update(model.select(model.state).where(model.id == job_id)).scalar()


def _record(job_id, previous):
    """The Event of a Job's state change made here (its start, its end), in the caller's transaction."""
    events.changed("Job", {"state": previous}, store.get("Job", job_id))


def renew_leases(worker_id, lease_until):
    """Renew the leases of every job a worker runs."""
    model = _jobs()
    (model.update(lease_until=lease_until)
     .where((model.worker == worker_id) & model.state.in_(ACTIVE)).execute())


def renew_lease(job_id, lease_until):
    model = _jobs()
    model.update(lease_until=lease_until).where(model.id == job_id).execute()


def end_lease(job_id):
    model = _jobs()
    model.update(lease_until=None).where(model.id == job_id).execute()


def state_of(job_id):
    model = _jobs()
    return model.select(model.state).where(model.id == job_id).scalar()


def expired(now):
    """Ids of the running jobs whose lease expired (their server died)."""
    model = _jobs()
    return [r.id for r in model.select(model.id).where(model.state.in_(ACTIVE) & (model.lease_until < now))]


def fail_expired(job_id, now):
    """Fail a job whose lease expired, unless it was renewed meanwhile; return whether it was failed here."""
    model = _jobs()
    with db.write_transaction():
        previous = _locked_state(job_id)
        failed = bool(model.update(lease_until=None, state="FAILED", version=model.version + 1)
                      .where((model.id == job_id) & (model.lease_until < now)).execute())
        if failed:
            _record(job_id, previous)
    return failed


def change_state(job_id, state, from_states):
    """Set a job's state if it is in one of `from_states`; return whether it was."""
    model = _jobs()
    with db.write_transaction():
        previous = _locked_state(job_id)
        changed = bool(model.update(state=state, version=model.version + 1)
                       .where((model.id == job_id) & model.state.in_(tuple(from_states))).execute())
        if changed:
            _record(job_id, previous)
    return changed




def creating(kind_name, row_id, states):
    """Ids of the jobs in one of the states that create the row (its links say which Jobs target it)."""
    ids = [r.id for r in links.referrers(kind_name, row_id, "Job", "_target")]
    return [job["id"] for job in store.rows("Job", id=ids, state=tuple(states)) if job["data"].get("action") == "add"] \
        if ids else []
