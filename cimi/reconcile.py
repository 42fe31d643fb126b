"""Reconciliation: the store and the hypervisors agree again after crashes and outside changes.

A periodic pass (and one at start) re-reads every Machine in a stable state
from the backend: a machine stopped from outside shows STOPPED, one deleted
from outside shows ERROR. Domains that this cloud created but whose Machine
row is gone (a crash between the two) are removed. Machines in a transient
state are left to the Job that owns them.
"""
import logging

import backends
from cimi import db, store
from cimi.kinds.machine import STABLE, backend_key, record_state

log = logging.getLogger(__name__)
PREFIX = "cimi-"


def reconcile(cloud):
    """Run one pass; return (states changed, orphans removed)."""
    try:
        found = cloud.backend.list_machines()
    except backends.BackendError as exc:
        log.warning("reconciliation skipped: %s", exc)
        return 0, 0
    by_key = {m.key: m for m in found}
    by_name = {m.name: m for m in found}
    model = db.model_for("Machine")
    changed = 0
    known = set()
    for record in model.select(model.id, model.state, model.data):
        row = {"id": record.id, "state": record.state, "data": store.to_row(record)["data"]}
        known.add(record.id)
        if row["state"] not in STABLE:
            continue
        info = by_key.get(row["data"].get("_key")) or by_name.get(backend_key(row))
        state = info.state if info else "ERROR"
        if state != row["state"]:
            log.warning("Machine %s is %s on its host, not %s", row["id"], state, row["state"])
            record_state(row["id"], state)
            changed += 1
    orphans = [m for m in found if m.name and m.name.startswith(PREFIX) and m.name[len(PREFIX):] not in known]
    for machine in orphans:
        log.warning("removing domain %s: no Machine has it (left by an interrupted create or delete)", machine.name)
        try:
            cloud.backend.delete_machine(machine.key)
        except backends.BackendError as exc:
            log.warning("could not remove %s: %s", machine.name, exc)
    return changed, len(orphans)
