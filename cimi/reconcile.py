"""Reconciliation: the store and the hypervisors agree again after crashes and outside changes.

A periodic pass (and one at start) re-reads every Machine in a stable state
from the backend: a machine stopped from outside shows STOPPED, one deleted
from outside or whose guest crashed shows ERROR, with the reason. Domains that this cloud created but whose Machine
row is gone (a crash between the two) are removed. Machines in a transient
state are left to the Job that owns them. The same pass turns the DHCP
leases of our machines' NICs into Address rows (`reconcile_addresses`).
"""
import logging

import backends
from cimi import db, naming, store
from cimi.kinds.machine import STABLE, backend_key, record_state, seen

log = logging.getLogger(__name__)


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
    # NOTE: rows are read in full before any is written: an UPDATE while a SELECT
    # cursor is open upgrades SQLite's read lock and fails at once ("locked").
    for record in list(model.select(model.id, model.state, model.data)):
        row = {"id": record.id, "state": record.state, "data": store.to_row(record)["data"]}
        known.add(record.id)
        if row["state"] not in STABLE:
            continue
        info = by_key.get(row["data"].get("_key")) or by_name.get(backend_key(row))
        if seen(row, info):
            log.warning("Machine %s is %s on its host, not %s%s", row["id"], info.state if info else "gone",
                        row["state"], f" ({info.reason})" if info and info.reason else "")
            changed += 1
    orphans = [m for m in found if naming.machine_id(m.name) not in (None, *known)]
    for machine in orphans:
        log.warning("removing domain %s: no Machine has it (left by an interrupted create or delete)", machine.name)
        try:
            cloud.backend.delete_machine(machine.key)
        except backends.BackendError as exc:
            log.warning("could not remove %s: %s", machine.name, exc)
    reconcile_addresses(cloud)
    return changed, len(orphans)


def resume(cloud):
    """At server start: start again the Machines the store holds STARTED that their host shows shut off.

    That is what a host restart leaves when libvirtd did not boot them (no
    autostart flag yet, or it failed). `config.resume_on_start` "report" only
    logs them and shows them STOPPED. Runs before the first reconciliation,
    which would otherwise show them STOPPED. Return how many were found.
    """
    try:
        found = {m.name: m for m in cloud.backend.list_machines()}
    except backends.BackendError as exc:
        log.warning("machines not resumed: %s", exc)
        return 0
    model = db.model_for("Machine")
    rows = [store.to_row(r) for r in list(model.select().where(model.state == "STARTED"))]
    stopped = [r for r in rows if getattr(found.get(backend_key(r)), "state", None) == "STOPPED"]
    for row in stopped:
        if cloud.config.resume_on_start != "start":
            log.warning("Machine %s (%s) was STARTED but its host shows it shut off: left STOPPED "
                        "(--resume-on-start report)", row["id"], row["name"])
            record_state(row["id"], "STOPPED")
            continue
        log.warning("Machine %s (%s) was STARTED but its host shows it shut off: starting it again",
                    row["id"], row["name"])
        try:
            seen(row, cloud.backend.start_machine(backend_key(row)))
        except backends.BackendError as exc:
            log.warning("Machine %s did not start again: %s", row["id"], exc)
            record_state(row["id"], "ERROR", f"could not start it again after its host restarted: {exc}",
                         "inactive")
    return len(stopped)


def reconcile_addresses(cloud):
    """Keep the dynamic Address rows equal to the DHCP leases of our machines' NICs.

    For each Network with a backend key, a lease whose MAC is a
    MachineNetworkInterface on that Network becomes an Address owned by the
    machine's owner; Addresses whose lease is gone are removed. A Network
    whose leases cannot be read keeps its Addresses. Return (added, updated, removed).
    """
    machines = db.model_for("Machine")
    owners = {r.id: r.owner for r in machines.select(machines.id, machines.owner)}
    nics = {}                                   # (network id, mac) -> (machine id, network href)
    for record in list(db.model_for("MachineNetworkInterface").select()):
        row = store.to_row(record)
        href = (row["data"].get("network") or {}).get("href") or ""
        mac = (row["data"].get("macAddress") or "").lower()
        if mac and href and row["parent"] in owners:
            nics[(href.rstrip("/").rsplit("/", 1)[-1], mac)] = (row["parent"], href)
    networks = db.model_for("Network")
    readable, existing, wanted = set(), set(), {}
    for record in list(networks.select(networks.id, networks.data)):
        existing.add(record.id)
        key = store.to_row(record)["data"].get("_key") if record.data else None
        if not key:
            continue
        try:
            leases = cloud.backend.network_leases(key)
        except backends.BackendError as exc:
            log.warning("leases of network %s not read: %s", key, exc)
            continue
        readable.add(record.id)
        for mac, ip, hostname in leases:
            found = nics.get((record.id, mac.lower()))
            if found:
                wanted[(record.id, mac.lower(), ip)] = (found, hostname)
    return _apply_addresses(owners, readable, existing, wanted)


def _apply_addresses(owners, readable, existing, wanted):
    """Make the dynamic Address rows match `wanted` on the readable (or deleted) networks."""
    model = db.model_for("Address")
    added = updated = removed = 0
    for record in list(model.select()):
        row = store.to_row(record)
        data = row["data"]
        if data.get("allocation") != "dynamic" or "_network" not in data:
            continue
        key = (data["_network"], data.get("_mac"), data.get("ip"))
        if key not in wanted:
            if data["_network"] in readable or data["_network"] not in existing:
                store.delete("Address", row["id"])
                removed += 1
            continue
        (machine_id, _href), hostname = wanted.pop(key)
        if (row["owner"], data.get("hostname"), data.get("_machine")) != (owners[machine_id], hostname, machine_id):
            changed = {**data, "_machine": machine_id}
            changed.pop("hostname", None)
            if hostname:
                changed["hostname"] = hostname
            store.update("Address", row["id"], {"owner": owners[machine_id], "name": hostname or data["ip"],
                                                "data": changed})
            updated += 1
    for (network_id, mac, ip), ((machine_id, href), hostname) in wanted.items():
        data = {"ip": ip, "allocation": "dynamic", "protocol": "IPv6" if ":" in ip else "IPv4",
                "network": {"href": href}, "_network": network_id, "_mac": mac, "_machine": machine_id}
        if hostname:
            data["hostname"] = hostname
        store.insert("Address", {"owner": owners[machine_id], "name": hostname or ip,
                                 "description": f"DHCP lease of {mac}", "data": data})
        added += 1
    if added or removed:
        log.info("addresses from DHCP leases: %d added, %d updated, %d removed", added, updated, removed)
    return added, updated, removed
