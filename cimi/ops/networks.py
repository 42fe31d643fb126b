"""Network operations (libvirt networks), and the NetworkPorts and Addresses found on them."""
import ipaddress

import backends
from backends import model
from cimi import errors, naming, represent, store, templates
from cimi.ops.resources import Created, delete_backend_object


MODES = {"PUBLIC": "nat", "PRIVATE": "isolated"}
MIN_PREFIX, MAX_PREFIX = 16, 30     # up to 65533 DHCP addresses, down to one
THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")


def prepare(ctx, body, parent):
    """Check a Network create request (its cidr free); the Job defines it."""
    template = templates.by_value(ctx, "NetworkTemplate", body["networkTemplate"], "networkTemplate")
    config = templates.by_value(ctx, "NetworkConfiguration", template.get("networkConfig"), "networkConfig")
    state = template.get("initialState") or "STARTED"
    if state not in ("STARTED", "STOPPED"):
        raise errors.BadRequest("initialState of a Network is STARTED or STOPPED")
    data = {"networkType": config.get("networkType") or "PRIVATE", "cidr": config.get("cidr")}
    if data["networkType"] == "PUBLIC" and not data["cidr"]:
        raise errors.BadRequest("a PUBLIC network is NATed to the host and needs a cidr, e.g. 192.168.150.0/24")
    if data["cidr"]:
        _check_cidr(ctx, data["cidr"])
    if config.get("mtu"):
        data["mtu"] = config["mtu"]
    if config.get("classOfService"):
        data["classOfService"] = config["classOfService"]
    return Created({"state": "CREATING", "data": {k: v for k, v in data.items() if v is not None}},
                   job=create, payload={"initialState": state})


def _check_cidr(ctx, cidr):
    """Refuse a range the host cannot give a bridge: not a usable IPv4 block, or one another Network has.

    The host's bridge takes the range's first address and routes all of it:
    loopback, multicast or a range already routed would break the host's own networking.
    """
    try:
        block = ipaddress.IPv4Network(cidr, strict=False)
    except ValueError:
        raise errors.BadRequest(f"cidr {cidr!r} is not an IPv4 network") from None
    if not MIN_PREFIX <= block.prefixlen <= MAX_PREFIX:
        raise errors.BadRequest(f"cidr {cidr!r}: the prefix length must be from /{MIN_PREFIX} to /{MAX_PREFIX}")
    if block.is_loopback or block.is_link_local or block.is_multicast or block.is_reserved \
            or block.subnet_of(THIS_NETWORK):
        raise errors.BadRequest(f"cidr {cidr!r} is a loopback, link-local, multicast or reserved range; "
                                "take a private one, e.g. 192.168.150.0/24")
    config = ctx.cloud.config
    taken = [(row["data"]["cidr"], row["name"] if represent.can_read(ctx.user, "Network", row) else "another user's")
             for row in store.all_rows("Network") if row["data"].get("cidr")]
    if config.default_network:
        taken.append((config.default_network_cidr, config.default_network))
    for other, name in taken:
        if block.overlaps(ipaddress.IPv4Network(other, strict=False)):
            raise errors.Conflict(f"cidr {cidr} overlaps {other} of the Network {name}")


def create(job):
    row = store.get("Network", job.payload["id"])
    info = job.backend.create_network(model.NetworkSpec(
        name=_backend_name(row), mode=MODES[row["data"]["networkType"]], cidr=row["data"].get("cidr")))
    store.update("Network", row["id"], {"data": {**row["data"], "_key": info.key}})
    job.checkpoint()
    if job.payload["initialState"] == "STARTED":
        info = job.backend.start_network(info.key)
    store.set_state("Network", row["id"], info.state)


def _backend_name(row):
    """The libvirt network's name, known before it exists (a failed create removes it by that name)."""
    return f"cimi-{row['id'][:10]}"


def _verb(job, method):
    row = store.get("Network", job.payload["id"])
    store.set_state("Network", row["id"], getattr(job.backend, method)(row["data"]["_key"]).state)
    record_links(job.backend, row)


def start(job):
    _verb(job, "start_network")


def stop(job):
    _verb(job, "stop_network")


def _running_machines(ctx, row):
    """Ids (or domain names) of the running machines with an interface on the Network, as libvirt sees them."""
    try:
        return sorted({naming.machine_id(name) or name for name, _mac, _up in ctx.cloud.backend.network_links(
            row["data"]["_key"])})
    except backends.BackendError as exc:
        raise errors.BackendFailure(exc) from None


def check_stop(ctx, row, params):
    """Stopping unplugs every running machine on the network: only when forced (DSP0263 `force`)."""
    if row["data"].get("_key") and not params.get("force"):
        running = _running_machines(ctx, row)
        if running:
            raise errors.Conflict(f"running Machines are on this Network: {', '.join(running)}; "
                                  "stop them first, or stop the Network with force")


def record_links(backend, row):
    """Show on each running machine's MachineNetworkInterface (and NetworkPort) whether it is plugged in."""
    for name, mac, connected in backend.network_links(row["data"]["_key"]):
        machine_id = naming.machine_id(name)
        for nic in store.rows("MachineNetworkInterface", parent=machine_id):
            if (nic["data"].get("macAddress") or "").lower() == mac.lower():
                store.set_state("MachineNetworkInterface", nic["id"], "ACTIVE" if connected else "DISABLED")
        for port in store.rows("NetworkPort", parent=machine_id, name=mac):
            store.set_state("NetworkPort", port["id"], "STARTED" if connected else "STOPPED")


def delete(job):
    delete_backend_object(job, "Network", "delete_network")


def refresh(ctx, row):
    """After a failed Job, show the Network's real state; a failed create leaves nothing behind."""
    if row["state"] == "CREATING":
        ctx.cloud.backend.delete_network(_backend_name(row))
        store.delete("Network", row["id"])
        return
    try:
        state = ctx.cloud.backend.network(row["data"]["_key"]).state if row["data"].get("_key") else "ERROR"
    except backends.NotFound:
        state = "ERROR"
    store.set_state("Network", row["id"], state)


def forget_addresses(machine_id):
    """Remove the Addresses leased to a Machine that is going away."""
    for address in store.referrers("Machine", machine_id, source_kind="Address"):
        store.delete("Address", address.id)
