"""Reconciliation: the store and the hypervisors agree again after crashes and outside changes.

A periodic pass (and one at start) re-reads every Machine in a stable state
from the backend: a machine stopped from outside shows STOPPED, one deleted
from outside or whose guest crashed shows ERROR, with the reason. Domains that this cloud created but whose Machine
row is gone (a crash between the two) are removed. Machines in a transient
state are left to the Job that owns them. The same pass settles the
attachments no Job works on (`reconcile_attachments`) and turns the DHCP
leases of our machines' NICs into Address rows (`reconcile_addresses`).
"""
import datetime
import logging
import threading
import time

import backends
from cimi import errors, naming, store
from cimi.context import Context
from cimi.naming import backend_key
from cimi.ops.attachments import settle_attachment
from cimi.ops.machines import STABLE, record_state, seen

log = logging.getLogger(__name__)
SETTLE_AFTER = datetime.timedelta(seconds=60)


def reconcile(cloud):
    """Run one pass; return (states changed, orphans removed)."""
    # NOTE: rows are read in full before any is written: an UPDATE while a SELECT
    # cursor is open upgrades SQLite's read lock and fails at once ("locked").
    # They are read before the hosts are listed, and written only if unchanged
    # since: a Job finishing meanwhile (a create recovered at start) is newer
    # than the listing, which would otherwise flip a healthy Machine to ERROR
    # until the next pass.
    records = store.rows("Machine")
    try:
        found = cloud.backend.list_machines()
    except backends.BackendError as exc:
        log.warning("reconciliation skipped: %s", exc)
        return 0, 0
    by_key = {m.key: m for m in found}
    by_name = {m.name: m for m in found}
    changed = 0
    known = {record["id"] for record in records}
    for record in records:
        row = {"id": record["id"], "state": record["state"], "data": record["data"]}
        if row["state"] not in STABLE:
            continue
        info = by_key.get(row["data"].get("_key")) or by_name.get(backend_key(row))
        try:
            if not seen(row, info, version=record["version"]):
                continue
        except (errors.PreconditionFailed, errors.NotFound):
            continue                        # a Job changed or removed it after the listing: its word is newer
        if info is None or info.state != row["state"]:
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
    reconcile_attachments(cloud)
    reconcile_addresses(cloud)
    return changed, len(orphans)


def reconcile_attachments(cloud):
    """Settle the attachments no Job works on from what the hypervisors show (`settle_attachment`).

    This catches what no Job can: a crash between storing an attachment and
    queueing its Job, or a guest that released a disk after its detach Job
    gave up. Attachments younger than SETTLE_AFTER are left to their Job.
    """
    busy = _job_targets("MachineVolume")
    for row in store.rows("MachineVolume", created_before=store.utcnow() - SETTLE_AFTER):
        machine = store.find("Machine", row["parent"])
        if row["id"] in busy or machine is None or machine["state"] not in STABLE:
            continue
        href = row["data"]["volume"]["href"]
        try:
            settle_attachment(Context(user=None, base=href[:href.rindex("volumes/")], cloud=cloud), row)
        except backends.BackendError as exc:
            log.warning("attachment %s not settled: %s", row["id"], exc)


def _job_targets(kind_name):
    """Ids of the kind's rows that a queued or running Job is about."""
    targets = set()
    for job in store.rows("Job", state=("QUEUED", "RUNNING")):
        target = job["data"].get("_target") or ()
        if len(target) == 2 and target[0] == kind_name:
            targets.add(target[1])
    return targets


_ADDRESSES = threading.Lock()


class LeaseWatch:
    """Read the leases every few seconds while a running Machine's NIC waits for its first Address.

    libvirt sends no event for a DHCP lease; polling right after a start shows
    the address within seconds of the lease, and the periodic pass covers
    later changes. A NIC is waited for at most WINDOW seconds: a guest with a
    static address never asks for a lease.
    """
    WINDOW = 300.0

    def __init__(self):
        self.waiting = {}                       # NIC id -> when first seen without an Address

    def tick(self, cloud, now=None):
        """Read the leases if some NIC still waits; return whether they were read."""
        now = time.monotonic() if now is None else now
        self.waiting = {nic: self.waiting.get(nic, now) for nic in _unaddressed_nics()}
        if not any(now - since < self.WINDOW for since in self.waiting.values()):
            return False
        reconcile_addresses(cloud)
        return True


def _unaddressed_nics():
    started = {r["id"] for r in store.rows("Machine", state="STARTED")}
    return [row["id"] for row in store.rows("MachineNetworkInterface", parent=started)
            if not (row["data"].get("addresses") or {}).get("count")] if started else []
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
    rows = store.rows("Machine", state="STARTED")
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
    owners = {r["id"]: r["owner"] for r in store.rows("Machine")}
    nics = {}                                   # (network id, mac) -> (machine id, network href)
    rows = {}                                   # (machine id, mac) -> MachineNetworkInterface row
    for row in store.rows("MachineNetworkInterface"):
        href = (row["data"].get("network") or {}).get("href") or ""
        mac = (row["data"].get("macAddress") or "").lower()
        if mac and href and row["parent"] in owners:
            nics[(href.rstrip("/").rsplit("/", 1)[-1], mac)] = (row["parent"], href)
            rows[(row["parent"], mac)] = row
    readable, existing, wanted = set(), set(), {}
    for network in store.rows("Network"):
        existing.add(network["id"])
        key = network["data"].get("_key")
        if not key:
            continue
        try:
            leases = cloud.backend.network_leases(key)
        except backends.BackendError as exc:
            log.warning("leases of network %s not read: %s", key, exc)
            continue
        readable.add(network["id"])
        for mac, ip, hostname in leases:
            found = nics.get((network["id"], mac.lower()))
            if found:
                wanted[(network["id"], mac.lower(), ip)] = (found, hostname)
    with _ADDRESSES:                            # NOTE: the lease watch and the periodic pass may meet here
        counts = _apply_addresses(owners, readable, existing, wanted)
        _list_on_nics(rows)
    return counts


def _base(network_href):
    """The API base the stored hrefs were made with (they are absolute)."""
    return network_href[:network_href.rindex("networks/")]


def _list_on_nics(nics):
    """Show each NIC's Addresses in its inline `addresses` collection (MachineNetworkInterfaceAddress items)."""
    held = {}
    for address in store.rows("Address"):
        data = address["data"]
        if data.get("_machine"):
            held.setdefault((data["_machine"], data.get("_mac")), []).append(address["id"])
    for (machine_id, mac), row in nics.items():
        base = _base(row["data"]["network"]["href"])
        ids = sorted(held.get((machine_id, mac), ()))
        listed = {"id": f"{base}machines/{machine_id}/networkInterfaces/{row['id']}/addresses", "count": len(ids)}
        if ids:
            listed["machineNetworkInterfaceAddresses"] = [{"address": {"href": f"{base}addresses/{i}"}} for i in ids]
        if row["data"].get("addresses") != listed:
            store.update("MachineNetworkInterface", row["id"], {"data": {**row["data"], "addresses": listed}})


def _apply_addresses(owners, readable, existing, wanted):
    """Make the dynamic Address rows match `wanted` on the readable (or deleted) networks."""
    added = updated = removed = 0
    for row in store.rows("Address"):
        data = row["data"]
        if data.get("allocation") != "dynamic" or "_network" not in data:
            continue
        key = (data["_network"], data.get("_mac"), data.get("ip"))
        if key not in wanted:
            if data["_network"] in readable or data["_network"] not in existing:
                store.delete("Address", row["id"])
                removed += 1
            continue
        (machine_id, href), hostname = wanted.pop(key)
        resource = {"href": f"{_base(href)}machines/{machine_id}"}
        if (row["owner"], data.get("hostname"), data.get("resource")) != (owners[machine_id], hostname, resource):
            changed = {**data, "_machine": machine_id, "resource": resource}
            changed.pop("hostname", None)
            if hostname:
                changed["hostname"] = hostname
            store.update("Address", row["id"], {"owner": owners[machine_id], "name": hostname or data["ip"],
                                                "data": changed})
            updated += 1
    for (network_id, mac, ip), ((machine_id, href), hostname) in wanted.items():
        data = {"ip": ip, "allocation": "dynamic", "protocol": "IPv6" if ":" in ip else "IPv4",
                "network": {"href": href}, "resource": {"href": f"{_base(href)}machines/{machine_id}"},
                "_network": network_id, "_mac": mac, "_machine": machine_id}
        if hostname:
            data["hostname"] = hostname
        store.insert("Address", {"owner": owners[machine_id], "name": hostname or ip,
                                 "description": f"DHCP lease of {mac}", "data": data})
        added += 1
    if added or removed:
        log.info("addresses from DHCP leases: %d added, %d updated, %d removed", added, updated, removed)
    return added, updated, removed
