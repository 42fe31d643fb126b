"""Jobs: rows in the store, claimed and run by worker threads.

A worker claims a QUEUED job with one conditional UPDATE (state QUEUED ->
RUNNING), so front ends sharing a database never run a job twice. While it
runs, the worker renews a lease; a job whose lease expired (its server died)
is failed explicitly and its target re-read from the backend, so no job stays
RUNNING for ever. QUEUED jobs left by a dead server are simply run.
"""
import datetime
import logging
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field

import backends
from cimi import errors, registry, store
from cimi.store import users
from cimi.store import jobs as claims
from cimi.context import Context
from cimi.represent import iso
from cimi.vocabulary import action_uri

log = logging.getLogger(__name__)
LEASE = datetime.timedelta(seconds=15)
UNAVAILABLE_BACKOFF = (1, 2, 4, 8, 15)   # seconds between tries while the hypervisor is down   # default: a dead server's jobs are failed within this
FINAL = ("SUCCESS", "FAILED", "STOPPED")


class Cancelled(Exception):
    """Raised at a handler's checkpoint when its resource was deleted while being created."""


CANCELLED = "cancelled: the resource was deleted while it was being created; nothing of it was kept"


@dataclass
class JobSpec:
    """What a kind asks the job system to do after answering 202."""
    handler: str                       # registry.job_name of the operation
    target_href: str
    action: str                        # "add", "delete", "edit" or an action name
    payload: dict = field(default_factory=dict)
    affected: list = field(default_factory=list)
    target: tuple | None = None        # (kind name, row id) to re-read on failure
    rel: str | None = None             # an extension operation's URI (the Job's action); None: from `action`


class _Job:
    """What every job a handler gets shares: the backend of its context, and running another operation inside it."""

    @property
    def backend(self):
        return self.ctx.cloud.backend

    def inline(self, operation, payload):
        """Run another operation now, inside this job (a System's components, a Machine's new Volumes)."""
        return operation(InlineJob(self, payload))


class RunningJob(_Job):
    """What a handler gets: the job's payload, a server context, progress reports."""

    def __init__(self, runner, row):
        self.runner, self.row = runner, row
        self.handler, self.payload = claims.worker_columns(row["id"])    # the columns rows leave out
        self.owner = row["owner"]
        user = users.get(self.owner) if self.owner else None
        self.ctx = Context(user=user, base=row["data"]["_base"], cloud=runner.cloud)

    def progress(self, percent, message=None):
        """Report progress and renew the lease."""
        changes = {"progress": int(percent)}
        if message:
            changes["statusMessage"] = message
        self.runner.touch(self.row["id"], changes)

    def affect(self, href):
        self.runner.touch(self.row["id"], {}, affected=href)

    def keepalive(self):
        self.runner.touch(self.row["id"], {})

    def checkpoint(self):
        """Stop here (raise Cancelled) if a delete asked to cancel this job; handlers call it between steps."""
        if self.runner.state_of(self.row["id"]) == "STOPPING":
            raise Cancelled()


class InlineJob(_Job):
    """A handler run inside another job (a System's components), sharing its context."""

    def __init__(self, parent, payload):
        self.parent, self.payload, self.ctx, self.owner = parent, payload, parent.ctx, parent.owner

    def progress(self, percent, message=None):
        """Progress belongs to the parent job; only renew its lease."""
        self.parent.keepalive()

    def affect(self, href):
        self.parent.affect(href)

    def keepalive(self):
        """Renew the outermost job's lease (a Volume made inside a System's Machine)."""
        self.parent.keepalive()

    def checkpoint(self):
        self.parent.checkpoint()


def action_text(action):
    return action if action in ("add", "edit", "delete") else action_uri(action)


def cancel_creation(kind_name, row_id):
    """Ask the QUEUED or RUNNING create Job of a resource to stop; return that Job's row, or None.

    The Job ends STOPPED once its handler reached a checkpoint (or at once
    when it never ran) and the kind's delete handler undid what it made; a
    Job that already finished is left alone (None), and the caller deletes
    the resource as usual.
    """
    unfinished = ("QUEUED", "RUNNING", "STOPPING")
    for job_id in claims.creating(kind_name, row_id, unfinished):
        if claims.change_state(job_id, "STOPPING", unfinished):
            return store.get("Job", job_id)
    return None


def submit(ctx, spec):
    """Queue a job and return its row; workers pick it up at once."""
    affected = [{"href": spec.target_href}] + [{"href": h} for h in spec.affected]
    now = store.utcnow()
    data = {"targetResource": {"href": spec.target_href}, "affectedResources": affected,
            "action": spec.rel or action_text(spec.action), "progress": 0, "timeOfStatusChange": iso(now),
            "_base": ctx.base, "_target": list(spec.target) if spec.target else None}
    row = store.insert("Job", {"owner": ctx.owner, "state": "QUEUED", "name": spec.action,
                               "data": data, "handler": spec.handler, "payload": spec.payload})
    ctx.cloud.jobs.wake()
    return row


class Runner:
    """Worker threads of one server process."""

    def __init__(self, cloud, threads=4, poll=0.5, reconcile_every=30.0, lease=LEASE, lease_poll=0.0):
        self.cloud, self.threads, self.poll, self.reconcile_every = cloud, threads, poll, reconcile_every
        self.lease_poll = lease_poll
        self.lease = lease
        self.worker_id = uuid.uuid4().hex[:16]
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pool = []
        self._running = set()              # ids of the jobs this process's workers run now

    def start(self):
        self.recover()
        for n in range(self.threads):
            t = threading.Thread(target=self._loop, name=f"job-worker-{n}", daemon=True)
            t.start()
            self._pool.append(t)
        loops = [self._heartbeat_loop, self._reconcile_loop if self.reconcile_every else self._resume] \
            + ([self._lease_loop] if self.lease_poll else [])
        for loop in loops:
            t = threading.Thread(target=loop, name=loop.__name__.strip("_"), daemon=True)
            t.start()
            self._pool.append(t)

    def _heartbeat_loop(self):
        """Renew the leases of the jobs this process runs; fail those of dead servers."""
        while not self._stop.wait(self.lease.total_seconds() / 3):
            try:
                if self._running:                  # NOTE: an idle server writes nothing (cached counts stay valid)
                    claims.renew_leases(self.worker_id, store.utcnow() + self.lease)
                self.recover()
            except Exception:                      # noqa: BLE001 - the next beat tries again
                log.exception("job heartbeat failed")

    def _resume(self):
        """Once at start: machines a host restart stopped (cimi/ops/reconcile.py `resume`)."""
        from cimi.ops.reconcile import resume
        try:
            resume(self.cloud)
        except Exception:                          # noqa: BLE001 - the server serves on regardless
            log.exception("resuming machines failed")

    def _reconcile_loop(self):
        """Every few seconds: compare the store with the hosts (first resuming what a host restart stopped)."""
        from cimi.ops import exported_packages, meters, quarantine
        from cimi.ops.reconcile import reconcile
        self._resume()
        while not self._stop.is_set():
            try:
                reconcile(self.cloud)
                exported_packages.expire(self.cloud)
                quarantine.expire(self.cloud)
                meters.expire(self.cloud)
            except Exception:                      # noqa: BLE001 - keep reconciling whatever happens
                log.exception("reconciliation failed")
            self._stop.wait(self.reconcile_every)

    def _lease_loop(self):
        """Every second or two: DHCP leases of machines still waiting for their address."""
        from cimi.ops.reconcile import LeaseWatch
        watch = LeaseWatch()
        while not self._stop.wait(self.lease_poll):
            try:
                watch.tick(self.cloud)
            except Exception:                      # noqa: BLE001 - keep watching whatever happens
                log.exception("reading DHCP leases failed")

    def stop(self):
        self._stop.set()
        self._wake.set()
        for t in self._pool:
            t.join(timeout=10)

    def wake(self):
        self._wake.set()

    def _loop(self):
        while not self._stop.is_set():
            try:
                if self.run_one():
                    continue
            except Exception:                      # noqa: BLE001 - a worker must survive anything
                log.exception("job worker error")
            self._wake.wait(self.poll)
            self._wake.clear()

    def claim(self):
        """Claim the oldest QUEUED job (or one cancelled before it ran); return its row or None."""
        job_id = claims.claim(self.worker_id, store.utcnow() + self.lease)
        if job_id is None:
            return None
        row = store.get("Job", job_id)
        self._set(row["id"], {"timeOfStatusChange": iso(store.utcnow())})
        return row

    def run_one(self):
        """Run one queued job if there is one; return whether one ran."""
        row = self.claim()
        if row is None:
            return False
        self._running.add(row["id"])
        try:
            self._run(row)
        finally:
            self._running.discard(row["id"])
        return True

    def _run(self, row):
        job = RunningJob(self, row)
        store.set_actor(row["owner"])              # the initiator of the Events this job causes
        fn = registry.operation(job.handler)
        try:
            if fn is None:
                raise errors.NotImplementedYet(f"no handler for job {row['name']}")
            job.checkpoint()                       # cancelled before it ran: nothing to do but undo
            self._run_waiting_for_backend(job, fn)
            self._succeed(row["id"])
        except Cancelled:
            self._undo(job, row, "STOPPED", CANCELLED, 0)
        except (errors.CimiError, backends.BackendError) as exc:
            self._fail(job, row, str(exc), errors.status_of(exc))
        except Exception as exc:                   # noqa: BLE001
            log.error("job %s failed:\n%s", row["id"], traceback.format_exc())
            self._fail(job, row, f"internal error: {exc.__class__.__name__}", 500)

    def _succeed(self, job_id):
        """Mark a job SUCCESS, unless a cancel came after its last checkpoint (raise Cancelled then)."""
        if not self.finish(job_id, "SUCCESS", None, 0) and self.state_of(job_id) == "STOPPING":
            raise Cancelled()

    def _fail(self, job, row, message, code):
        if self.state_of(row["id"]) == "STOPPING":  # cancelled, and failing: still leave nothing behind
            return self._undo(job, row, "FAILED", f"{CANCELLED}; the creation had failed: {message}", code)
        self.refresh_target(row)                   # first: a client that sees FAILED sees the outcome too
        self.finish(row["id"], "FAILED", message, code)

    def _undo(self, job, row, state, message, code):
        """Delete what a cancelled create made, with the kind's own delete handler; then end the job."""
        kind_name, row_id = row["data"].get("_target") or (None, None)
        target = store.find(kind_name, row_id) if kind_name and row["data"].get("action") == "add" else None
        try:
            if target is not None:
                job.inline(registry.get(kind_name).delete(job.ctx, target), {"id": row_id})
        except Exception as exc:                   # noqa: BLE001 - reported in the job, never a dead worker
            log.error("job %s: undoing a cancelled create failed:\n%s", row["id"], traceback.format_exc())
            self.refresh_target(row)
            self.finish(row["id"], "FAILED", f"cancelled, but removing what was made failed: {exc}", 500)
            return
        self.finish(row["id"], state, message, code)

    def state_of(self, job_id):
        return claims.state_of(job_id)

    def _run_waiting_for_backend(self, job, fn):
        """Run a handler; while the hypervisor is unreachable (libvirtd restarting), wait and retry.

        Handlers are idempotent (backend calls are, on the machine's stable name), so
        running one again after it stopped half-way finishes the work.
        """
        for delay in (*UNAVAILABLE_BACKOFF, None):
            try:
                return fn(job)
            except backends.Unavailable:
                if delay is None or self._stop.is_set():
                    raise
                log.warning("job %s waits %s s for the hypervisor", job.row["id"], delay)
                job.progress(job.row["data"].get("progress", 0), "waiting for the hypervisor")
                time.sleep(delay)

    def touch(self, job_id, changes, affected=None):
        claims.renew_lease(job_id, store.utcnow() + self.lease)
        if changes or affected:
            row = store.get("Job", job_id)
            data = {**row["data"], **changes}
            if affected and {"href": affected} not in data["affectedResources"]:
                data["affectedResources"] = data["affectedResources"] + [{"href": affected}]
            store.update("Job", job_id, {"data": data})

    def _set(self, job_id, changes, state=None):
        row = store.get("Job", job_id)
        fields = {"data": {**row["data"], **changes}}
        if state:
            fields["state"] = state
        store.update("Job", job_id, fields)

    def finish(self, job_id, state, message, code):
        """End a job this worker ran, unless another server ended it meanwhile; return whether it did.

        A server too slow to renew its lease sees its job failed as interrupted
        by another one: that end stands, a Job ends once. A job being cancelled
        (STOPPING) can still fail or stop, never succeed (the caller undoes it).
        """
        changes = {"progress": 100, "returnCode": code, "timeOfStatusChange": iso(store.utcnow())}
        if message:
            changes["statusMessage"] = message
        row = store.get("Job", job_id)
        try:
            if row["state"] not in (("RUNNING",) if state == "SUCCESS" else ("RUNNING", "STOPPING")):
                raise errors.PreconditionFailed(row["state"])
            store.update("Job", job_id, {"data": {**row["data"], **changes}, "state": state}, version=row["version"])
        except errors.PreconditionFailed:
            if store.get("Job", job_id)["state"] != "STOPPING":
                log.warning("job %s was ended meanwhile (its lease expired); its outcome %s is dropped", job_id, state)
            return False
        claims.end_lease(job_id)
        return True

    def refresh_target(self, job_row):
        """After a failure, show the target's real state rather than a transient one."""
        target = job_row["data"].get("_target")
        if not target:
            return
        kind = registry.get(target[0])
        row = store.find(kind.name, target[1])
        if row is None:
            return
        refresh = getattr(kind, "refresh", None)
        try:
            if refresh:
                refresh(Context(user=None, base=job_row["data"]["_base"], cloud=self.cloud), row)
            else:
                store.update(kind.name, row["id"], {"state": "ERROR"})
        except Exception:                          # noqa: BLE001
            log.exception("could not refresh %s %s", kind.name, row["id"])
            store.update(kind.name, row["id"], {"state": "ERROR"})

    def recover(self):
        """Fail jobs whose server died while running them (expired lease)."""
        stale = claims.expired(store.utcnow())
        for job_id in stale:
            if claims.fail_expired(job_id, store.utcnow()):
                row = store.get("Job", job_id)
                log.warning("job %s was interrupted (its server stopped); failing it", job_id)
                self._set(job_id, {"progress": 100, "returnCode": 500, "timeOfStatusChange": iso(store.utcnow()),
                                      "statusMessage": "interrupted: the server running this job stopped"})
                self.refresh_target(row)
        return len(stale)

