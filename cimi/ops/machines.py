"""Machine operations: create, lifecycle verbs, delete, refresh, console (DSP0263 5.14).

States follow DSP0263 5.14.1; every state shown after a Job comes from the
backend's answer, not from what we expected.
"""
import base64
import binascii
import functools
import logging
import re
import threading
import time

import backends
from backends import model
from cimi import errors, naming, registry, represent, store, templates
from cimi.naming import backend_key
from cimi.ops import placement, usage, volumes
from cimi.ops.attachments import attach, attached_to, record_holder
from cimi.ops.credentials import guest_user
from cimi.ops.networks import forget_addresses
from cimi.ops.resources import Created, insert, remove


STABLE = frozenset({"STARTED", "STOPPED", "PAUSED", "SUSPENDED", "ERROR"})   # no Job is changing them
INITIAL_STATES = ("STARTED", "STOPPED")
DEFAULT_INITIAL_STATE = "STARTED"
KIB = 1024
log = logging.getLogger(__name__)
STATE_LISTENERS = []          # fn(machine_id) called after a Machine's state changed (Systems)
CONSOLE_TAIL, CONSOLE_TAIL_MAX = 200, 100_000      # lines of the console log served by default, at most


def record_state(machine_id, state, reason=None, domain=None, version=None, vnc=None):
    """Set a Machine's state (if still at `version`, when given) and let the resources that summarise it know.

    In ERROR the Machine says why (`statusMessage`; the first reason stays,
    as later ones are mostly its consequences) and whether the hypervisor
    still has its domain (`_domain`: "active", "inactive" or None), which
    decides what it offers (`_ERROR_OFFERS`). `vnc`: the display's address,
    known while it runs.
    """
    row = store.find("Machine", machine_id)
    if row is None:
        if version is not None:
            raise errors.NotFound(f"no Machine {machine_id}")
        return
    data = {k: v for k, v in row["data"].items() if k not in ("statusMessage", "_domain", "vnc")}
    if state == "ERROR":
        data["statusMessage"] = row["data"].get("statusMessage") or reason or "the machine failed"
        data["_domain"] = domain
    if vnc:
        data["vnc"] = vnc
    store.update("Machine", machine_id, {"state": state, "data": data}, version=version)
    for listener in STATE_LISTENERS:
        listener(machine_id)


GONE = "its domain is gone from the hypervisor"


def seen(row, info, version=None):
    """Record what the hypervisor shows of a Machine (info None: no domain); return whether that changed it.

    A shut-off domain forgets why it stopped when libvirtd restarts: a Machine
    in ERROR whose domain now merely reads STOPPED stays ERROR. With
    `version`, the row is written only if still at it (else PreconditionFailed).
    """
    if info is None:
        state, reason, domain, vnc = "ERROR", GONE, None, None
    else:
        state, reason, domain, vnc = info.state, info.reason, "active" if info.active else "inactive", info.vnc
    if row["state"] == "ERROR" and row["data"].get("_domain") and state == "STOPPED":
        state = "ERROR"
    if (state, domain if state == "ERROR" else None, vnc) == (row["state"], row["data"].get("_domain"),
                                                             row["data"].get("vnc")):
        return False
    record_state(row["id"], state, reason, domain, version, vnc)
    return True


def _failure_noted(what):
    """Decorate an operation: a failure becomes the Machine's reason and the Job's message.

    functools.wraps keeps the operation's own name, which its Job rows store.
    """
    def wrap(run):
        @functools.wraps(run)
        def noting(job):
            try:
                return run(job)
            except backends.Unavailable:
                raise                               # the Job waits for the hypervisor and retries
            except (backends.BackendError, errors.CimiError) as exc:
                message = f"could not {what}: {exc}"
                row = store.get("Machine", job.payload["id"])
                store.update("Machine", row["id"], {"data": {**row["data"], "statusMessage": message}})
                if isinstance(exc, errors.CimiError):
                    raise
                raise backends.BackendError(message) from exc
        return noting
    return wrap


def _user_data(text):
    if not text:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise errors.BadRequest("machineTemplate userData must be Base64") from None


def prepare(ctx, body, parent):
    """Check a create request and resolve its templates; the Job chooses the host and makes the rest."""
    template = templates.by_value(ctx, "MachineTemplate", body["machineTemplate"], "machineTemplate")
    config = templates.by_value(ctx, "MachineConfiguration", template.get("machineConfig"), "machineConfig")
    for attr in ("cpu", "memory"):
        if not isinstance(config.get(attr), int) or config[attr] < 1:
            raise errors.BadRequest(f"machineConfig needs a positive integer {attr}")
    usage.check_by_value(ctx, "machineConfig", config)
    for disk in config.get("disks", ()):
        placed("machineConfig disks", disk)
    image = templates.referenced(ctx, "MachineImage", template.get("machineImage"), ("AVAILABLE",), "machineImage")
    users = []
    if template.get("credential"):
        user = guest_user(templates.by_value(ctx, "Credential", template["credential"], "credential"))
        users = [user] if user else []
    volumes = []
    for ref in template.get("volumes", ()):
        volume = templates.referenced(ctx, "Volume", ref, ("AVAILABLE",), "volume")
        if attached_to(volume["id"]):
            raise errors.Conflict(f"Volume {volume['id']} is attached to another Machine")
        volumes.append({"id": volume["id"], "initialLocation": ref.get("initialLocation"),
                        "host": volume["data"].get("_host")})
    nics = []
    for nic in template.get("networkInterfaces", ()):
        network = templates.referenced(ctx, "Network", nic.get("network"), None, "networkInterfaces network")
        nics.append({"network": network["id"], "mac": nic.get("macAddress"), "model": nic.get("model")})
    made = []                   # Volumes the Job makes from volumeTemplates (DSP0263 5.11.2)
    for ref in template.get("volumeTemplates", ()):
        placed("volumeTemplates", ref)
        value = {k: v for k, v in ref.items() if k not in ("initialLocation", "bus")}
        registry.get("Volume").create(ctx, {"volumeTemplate": value}, None)      # its 400/409 now, not in the Job
        made.append({"volumeTemplate": value, "initialLocation": ref.get("initialLocation"), "bus": ref.get("bus")})
    state = template.get("initialState") or DEFAULT_INITIAL_STATE
    if state not in INITIAL_STATES:
        raise errors.BadRequest(f"initialState must be one of {', '.join(INITIAL_STATES)}")
    user_data = template.get("userData")
    _user_data(user_data)
    memory = config["memory"]
    # A Volume lives on one host: the Machine goes where its Volumes are.
    volume_hosts = {v.pop("host") for v in volumes} - {None}
    if len(volume_hosts) > 1:
        raise errors.Conflict("the template's Volumes live on different hosts")
    data = {"cpu": config["cpu"], "memory": memory, "cpuArch": config.get("cpuArch", "x86_64"),
            "_image": image["id"], "_diskCapacity": sum(d["capacity"] for d in config.get("disks", ()))}
    if config.get("cpuSpeed"):
        data["cpuSpeed"] = config["cpuSpeed"]
    if _wants_default_network(ctx, template):           # last: a bad request adds nothing
        nics.append({"network": default_network(ctx.cloud.config)})
    payload = {"disks": [d["capacity"] for d in config.get("disks", ())],
               "diskTargets": [disk_target(d.get("initialLocation")) for d in config.get("disks", ())],
               "diskBuses": [d.get("bus") for d in config.get("disks", ())],
               "volumes": volumes, "volumeTemplates": made, "nics": nics, "users": users, "userData": user_data,
               "initialState": state, "hosts": sorted(volume_hosts)}
    return Created({"state": "CREATING", "data": data}, job=create, payload=payload)


_DEFAULT_NETWORK = threading.Lock()


def _wants_default_network(ctx, template):
    """A template without networkInterfaces gets the default network, unless it names OVF networks.

    An OVF-imported template records its NICs' networks as `ovf:network:N`
    properties (they are its System's Networks): a NIC on the default network
    would add one the package never had.
    """
    properties = template.get("properties") or {}
    return bool(ctx.cloud.config.default_network) and "networkInterfaces" not in template \
        and not any(key.startswith("ovf:network:") for key in properties)


def default_network(config):
    """Return the id of the cloud's default NAT Network, adding its row when missing.

    Its libvirt network (named as the option says) is defined and started by
    the first Machine that needs it; one already there is adopted.
    """
    with _DEFAULT_NETWORK:
        found = store.first("Network", name=config.default_network, owner=None)
        if found is not None:
            return found["id"]
        return store.insert("Network", {
            "owner": None, "name": config.default_network, "state": "CREATING",
            "description": "the default NAT network of Machines created without networkInterfaces",
            "data": {"networkType": "PUBLIC", "cidr": config.default_network_cidr,
                     "_key": config.default_network}})["id"]


def _network_key(job, network_id, host):
    """The backend key of a NIC's Network; the default one is made (or adopted) on the machine's host here."""
    network = store.get("Network", network_id)
    if network["owner"] is None and network["name"] == job.ctx.cloud.config.default_network:
        info = job.backend.ensure_network(model.NetworkSpec(network["data"]["_key"], "nat",
                                                            network["data"].get("cidr"), host=host))
        if network["state"] != info.state:
            store.set_state("Network", network_id, info.state)
    return network["data"]["_key"]


@_failure_noted("create the machine")
def create(job):
    p = job.payload
    row = store.get("Machine", p["id"])
    data = _placed_on_host(job, row)
    image = store.get("MachineImage", data["_image"])
    # The configuration's first disk sizes the root disk (an overlay of the image, never
    # smaller than it); further disks are blank.
    sizes = [kib * KIB for kib in p["disks"]] or [0]
    image_key = placement.image_on(job, image["id"], data["host"])
    targets, buses = p.get("diskTargets") or [None] * len(sizes), p.get("diskBuses") or [None] * len(sizes)
    disks = [model.DiskSpec(capacity_bytes=max(sizes[0], image["data"].get("_bytes", 0)), image_key=image_key,
                            target=targets[0], bus=buses[0])]
    disks += [model.DiskSpec(capacity_bytes=size, target=target, bus=bus)
              for size, target, bus in zip(sizes[1:], targets[1:], buses[1:])]
    nics = [model.NicSpec(_network_key(job, n["network"], data["host"]), n.get("mac"), n.get("model"))
            for n in p["nics"]]
    users = [model.GuestUser(u["name"], u["keys"], u["passwordHash"]) for u in p["users"]]
    spec = model.MachineSpec(name=naming.machine_name(row["id"]), cpu=data["cpu"], memory_kib=data["memory"], disks=disks,
                             nics=nics, user_data=_user_data(p["userData"]), users=users, host=data["host"],
                             hostname=row["name"], instance_id=row["id"])
    info = job.backend.create_machine(spec)
    store.update("Machine", row["id"], {"data": {**data, "_key": info.key}})
    job.checkpoint()
    job.progress(50)
    for child in ("Disk", "MachineNetworkInterface", "NetworkPort"):
        store.delete_children(child, row["id"])         # a retried create records them once
    for disk in info.disks:
        store.insert("Disk", {"owner": row["owner"], "parent": row["id"], "name": disk.target,
                              "data": {"capacity": disk.capacity_bytes // KIB, "initialLocation": disk.target}})
    for nic, wanted in zip(info.nics, p["nics"]):
        network_href = represent.href(job.ctx, registry.get("Network"), store.get("Network", wanted["network"]))
        store.insert("MachineNetworkInterface", {
            "owner": row["owner"], "parent": row["id"], "state": "ACTIVE",
            "data": {"network": {"href": network_href}, "macAddress": nic.mac}})
        store.insert("NetworkPort", {"owner": row["owner"], "state": "STARTED", "name": nic.mac, "parent": row["id"],
                                     "data": {"network": {"href": network_href}, "portType": "ACCESS"}})
    for volume in p["volumes"]:
        if row["id"] not in attached_to(volume["id"]):
            attach(job, row["id"], volume["id"], volume.get("initialLocation"))
    _volumes_from_templates(job, row, p.get("volumeTemplates", ()))
    job.checkpoint()
    if p["initialState"] == "STARTED":
        info = job.backend.start_machine(info.key)
    seen(store.get("Machine", row["id"]), info)


def _placed_on_host(job, row):
    """Choose the Machine's host (once: a retried Job keeps it) and record it; return the row's data.

    Placement runs here, in the Job, so that a create request makes no
    hypervisor call; rows of older servers were placed in the request.
    """
    if "host" in row["data"]:
        return row["data"]
    data = row["data"]
    host = placement.place(job.backend, data["cpu"], data["memory"], only=job.payload.get("hosts"))
    data = {**data, "host": host}
    store.update("Machine", row["id"], {"data": data})
    return data


def _volumes_from_templates(job, row, specs):
    """Make and attach the Volumes of the template's volumeTemplates, once even when the Job is retried."""
    made = store.get("Machine", row["id"])["data"].get("_madeVolumes", [])
    for n, spec in enumerate(specs):
        if n == len(made):
            volume, created = insert(job.ctx, registry.get("Volume"), {
                "name": f"{row['name'] or row['id']} volume {n + 1}", "volumeTemplate": spec["volumeTemplate"]})
            made.append({"id": volume["id"], "payload": {**created.payload, "id": volume["id"]}})
            store.set_state("Machine", row["id"], "CREATING", _madeVolumes=made)
        if store.get("Volume", made[n]["id"])["state"] != "AVAILABLE":
            job.inline(volumes.create, made[n]["payload"])
        if row["id"] not in attached_to(made[n]["id"]):
            attach(job, row["id"], made[n]["id"], spec["initialLocation"], spec.get("bus"))


_DISK_NAME = re.compile(r"^(hd|sd|vd)[a-y]$")
#: Linux device prefix of each bus (the backend derives the bus back from it; sd alone means SCSI).
BUS_PREFIXES = {"ide": "hd", "scsi": "sd", "sata": "sd", "virtio": "vd"}


def disk_target(location):
    """The device a configuration's disk asks for ("hda": IDE, "sda": SCSI, "vda": virtio), or None.

    Only names whose bus we know are honoured; any other initialLocation leaves the choice to the backend.
    """
    name = (location or "").strip().removeprefix("/dev/")
    return name if _DISK_NAME.match(name) else None


def placed(what, spec):
    """Check a disk's or volumeTemplate's `bus` against its initialLocation (a sata disk is not named hdb)."""
    bus, name = spec.get("bus"), (spec.get("initialLocation") or "").strip().removeprefix("/dev/")
    if bus and name and not name.startswith(BUS_PREFIXES[bus]):
        raise errors.BadRequest(f"{what}: a disk on the {bus} bus is named {BUS_PREFIXES[bus]}*, "
                                f"not {spec['initialLocation']!r}")
    return spec


def _lifecycle(job, method):
    """Call one backend verb and record the state it reports."""
    row = store.get("Machine", job.payload["id"])
    options = {}
    force = job.payload.get("params", {}).get("force")
    if force is not None and method in ("stop_machine", "restart_machine"):
        options["force"] = force
    if method in ("stop_machine", "restart_machine"):
        options.update(timeout=job.ctx.cloud.config.stop_timeout, waiting=_shutdown_reporter(job))
    verb = method
    if method == "restart_machine" and job.payload.get("from") in ("STOPPED", "ERROR"):
        verb, options = "start_machine", {}       # restart of a stopped machine is a start (5.14.1.2)
    info = getattr(job.backend, verb)(backend_key(row), **options)
    if "waiting" in options:
        options["waiting"].stopped()
    seen(store.get("Machine", row["id"]), info)


@_failure_noted("start the machine")
def start(job):
    _lifecycle(job, "start_machine")


@_failure_noted("stop the machine")
def stop(job):
    _lifecycle(job, "stop_machine")


@_failure_noted("restart the machine")
def restart(job):
    _lifecycle(job, "restart_machine")


@_failure_noted("pause the machine")
def pause(job):
    _lifecycle(job, "pause_machine")


@_failure_noted("suspend the machine")
def suspend(job):
    _lifecycle(job, "suspend_machine")


def _shutdown_reporter(job):
    """Show in the Job how long a graceful stop has waited for the guest, and when it gave up.

    Its `stopped()` replaces a last "waiting" message once the machine is off
    (the guest shut down, or a forced stop ended the wait).
    """
    timeout = job.ctx.cloud.config.stop_timeout
    began, waited = time.monotonic(), []

    def waiting(elapsed):
        waited.append(elapsed)
        if elapsed >= timeout:
            job.progress(90, f"the guest did not shut down within {timeout:g} s: powered off")
        else:
            job.progress(10 + 80 * elapsed / timeout,
                         f"waiting for the guest to shut down ({elapsed:.0f} s of {timeout:g} s)")

    def stopped():
        if waited and waited[-1] < timeout:
            job.progress(95, f"the machine stopped after {time.monotonic() - began:.0f} s")
    waiting.stopped = stopped
    return waiting


def refresh(ctx, row):
    """After a failed Job, show what the backend says of a machine (ERROR when it is gone).

    A create that failed or was interrupted leaves nothing in the hypervisor:
    its domain and disks are removed and the Machine stays as ERROR, to say why.
    """
    if row["state"] == "CREATING":
        ctx.cloud.backend.delete_machine(backend_key(row))
        held = [mv["data"]["_volume"] for mv in store.children("MachineVolume", row["id"])]
        for child in ("Disk", "MachineNetworkInterface", "MachineVolume", "NetworkPort"):
            store.delete_children(child, row["id"])
        for volume_id in held:
            record_holder(ctx, volume_id)
        record_state(row["id"], "ERROR", "its creation was interrupted")
        return
    try:
        info = ctx.cloud.backend.machine(backend_key(row))
    except backends.NotFound:
        info = None
    seen(row, info)


def console(ctx, row, params):
    """Return the last `tail` lines of the Machine's serial console ("" if it never ran)."""
    tail = params.get("tail", CONSOLE_TAIL)
    try:
        lines = int(tail)
    except (TypeError, ValueError):
        lines = 0
    if not 1 <= lines <= CONSOLE_TAIL_MAX:
        raise errors.BadRequest(f"tail must be a number of lines from 1 to {CONSOLE_TAIL_MAX}, not {tail!r}")
    try:
        return ctx.cloud.backend.console_log(backend_key(row), lines)
    except backends.NotFound:
        return ""               # not (or no longer) defined on its host: it has no console


def delete(job):
    row = store.get("Machine", job.payload["id"])
    # Deleting the domain releases its Volumes (they are not among the disks it owns):
    # no detach to wait for, whatever the guest would say.
    job.backend.delete_machine(backend_key(row))      # also when a crash kept its key from the store
    forget(job, row)


def forget(job, row):
    """Remove a Machine whose domain is gone from the store: release its Volumes, ports, addresses, rows."""
    for mv in store.children("MachineVolume", row["id"]):
        record_holder(job.ctx, mv["data"]["_volume"])
    store.delete_children("NetworkPort", row["id"])    # ports of a machine have it as parent
    forget_addresses(row["id"])
    remove(registry.get("Machine"), row)
