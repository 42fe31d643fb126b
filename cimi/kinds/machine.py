"""Machine and its sub-collections (disks, volumes, networkInterfaces).

States follow DSP0263 5.14.1; every state shown after a Job comes from the
backend's answer, not from what we expected.
"""
import base64
import binascii

import backends
from backends import model
from cimi import db, errors, jobs, naming, placement, registry, represent, store, templates
from cimi.crud import Created
from cimi.kinds.credential import ssh_keys
from cimi.registry import Action, Kind, register

STABLE = frozenset({"STARTED", "STOPPED", "PAUSED", "SUSPENDED", "ERROR"})   # no Job is changing them
INITIAL_STATES = ("STARTED", "STOPPED")
DEFAULT_INITIAL_STATE = "STARTED"
KIB = 1024
STATE_LISTENERS = []          # fn(machine_id) called after a Machine's state changed (Systems)


def record_state(machine_id, state):
    """Set a Machine's state and let the resources that summarise it know."""
    store.set_state("Machine", machine_id, state)
    for listener in STATE_LISTENERS:
        listener(machine_id)


def _user_data(text):
    if not text:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise errors.BadRequest("machineTemplate userData must be Base64") from None


def _create(ctx, body, parent):
    template = templates.by_value(ctx, "MachineTemplate", body["machineTemplate"], "machineTemplate")
    config = templates.by_value(ctx, "MachineConfiguration", template.get("machineConfig"), "machineConfig")
    for attr in ("cpu", "memory"):
        if not isinstance(config.get(attr), int) or config[attr] < 1:
            raise errors.BadRequest(f"machineConfig needs a positive integer {attr}")
    image = templates.referenced(ctx, "MachineImage", template.get("machineImage"), ("AVAILABLE",), "machineImage")
    keys = []
    if template.get("credential"):
        keys = ssh_keys(templates.by_value(ctx, "Credential", template["credential"], "credential"))
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
        nics.append({"network": network["id"]})
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
    host = ctx.cloud.place(config["cpu"], memory, only=volume_hosts)
    data = {"cpu": config["cpu"], "memory": memory, "cpuArch": config.get("cpuArch", "x86_64"), "host": host,
            "_image": image["id"]}
    if config.get("cpuSpeed"):
        data["cpuSpeed"] = config["cpuSpeed"]
    payload = {"disks": [d["capacity"] for d in config.get("disks", ())],
               "volumes": volumes, "nics": nics, "keys": keys, "userData": user_data, "initialState": state}
    return Created({"state": "CREATING", "data": data}, job="Machine.create", payload=payload)


def attached_to(volume_id):
    """Return the ids of the machines a volume is attached to."""
    mv = db.model_for("MachineVolume")
    return [r.parent for r in mv.select(mv.parent).where(mv.data.contains(f'"_volume": "{volume_id}"'))]


@jobs.handler("Machine.create")
def _run_create(job):
    p = job.payload
    row = store.get("Machine", p["id"])
    data = row["data"]
    image = store.get("MachineImage", data["_image"])
    # The configuration's first disk sizes the root disk (an overlay of the image, never
    # smaller than it); further disks are blank.
    sizes = [kib * KIB for kib in p["disks"]] or [0]
    image_key = placement.image_on(job, image["id"], data["host"])
    disks = [model.DiskSpec(capacity_bytes=max(sizes[0], image["data"].get("_bytes", 0)), image_key=image_key)]
    disks += [model.DiskSpec(capacity_bytes=size) for size in sizes[1:]]
    nics = [model.NicSpec(store.get("Network", n["network"])["data"]["_key"]) for n in p["nics"]]
    spec = model.MachineSpec(name=naming.machine_name(row["id"]), cpu=data["cpu"], memory_kib=data["memory"], disks=disks,
                             nics=nics, user_data=_user_data(p["userData"]), ssh_keys=p["keys"], host=data["host"])
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
    job.checkpoint()
    if p["initialState"] == "STARTED":
        info = job.backend.start_machine(info.key)
    store.set_state("Machine", row["id"], info.state)


def device(location):
    """Map a CIMI initialLocation ("/dev/vdb", "vdb") to a device name, or None to let the backend pick."""
    if not location:
        return None
    name = location.strip().removeprefix("/dev/")
    if not name.isalnum():
        raise errors.BadRequest(f"initialLocation {location!r} is not a device name such as /dev/vdb")
    return name


def attachment(location, target):
    """The MachineVolume data of an attachment: the client's initialLocation as given, the backend's device apart.

    Clients compare initialLocation with what they sent ("/dev/sdf"); the
    backend's name ("sdf") is what detach and reconciliation need.
    """
    return {"initialLocation": (location or "").strip() or target, "_device": target}


def attach(job, machine_id, volume_id, location):
    machine, volume = store.get("Machine", machine_id), store.get("Volume", volume_id)
    target = job.backend.attach_volume(backend_key(machine), volume["data"]["_key"], device(location))
    href = represent.href(job.ctx, registry.get("Volume"), volume)
    return store.insert("MachineVolume", {"owner": machine["owner"], "parent": machine_id,
                                          "data": {**attachment(location, target), "volume": {"href": href},
                                                   "_volume": volume_id}})


def backend_key(row):
    """Name a machine to the backend by the name it was created with.

    The name is known before the backend answers, so calls still find the
    machine (and deleting it reaps its disks) when a crash kept its key from
    the store.
    """
    return naming.machine_name(row["id"])


def _lifecycle(method, **fixed):
    """A Job handler calling one backend verb and recording the state it reports."""
    def run(job):
        row = store.get("Machine", job.payload["id"])
        options = dict(fixed)
        force = job.payload.get("params", {}).get("force")
        if force is not None and method in ("stop_machine", "restart_machine"):
            options["force"] = force
        verb = method
        if method == "restart_machine" and job.payload.get("from") == "STOPPED":
            verb, options = "start_machine", {}       # restart of a stopped machine is a start (5.14.1.2)
        info = getattr(job.backend, verb)(backend_key(row), **options)
        record_state(row["id"], info.state)
    return run


def refresh(ctx, row):
    """Show what the backend says of a machine (ERROR when it is gone)."""
    try:
        state = ctx.cloud.backend.machine(backend_key(row)).state
    except backends.NotFound:
        state = "ERROR"
    record_state(row["id"], state)


@jobs.handler("Machine.delete")
def _run_delete(job):
    from cimi import crud
    row = store.get("Machine", job.payload["id"])
    for mv in store.children("MachineVolume", row["id"]):
        job.backend.detach_volume(backend_key(row), store.get("Volume", mv["data"]["_volume"])["data"]["_key"])
    job.backend.delete_machine(backend_key(row))      # also when a crash kept its key from the store
    store.delete_children("NetworkPort", row["id"])    # ports of a machine have it as parent
    crud.remove(registry.get("Machine"), row)


ACTIONS = [("start", {"STOPPED", "PAUSED", "SUSPENDED", "ERROR"}, "STARTING", "start_machine"),
           ("stop", {"STARTED", "PAUSED", "STOPPING", "ERROR"}, "STOPPING", "stop_machine"),
           ("restart", {"STARTED", "STOPPED", "ERROR"}, "STARTING", "restart_machine"),
           ("pause", {"STARTED"}, "PAUSING", "pause_machine"),
           ("suspend", {"STARTED"}, "SUSPENDING", "suspend_machine")]
for name, states, transient, method in ACTIONS:
    jobs.handler(f"Machine.{name}")(_lifecycle(method))

register(Kind(
    "Machine", "machines", create_schema="MachineCreate", create=_create, refresh=refresh,
    delete=lambda ctx, row: "Machine.delete", deletable_states=STABLE | {"FAILED", "CREATING"},  # CREATING: cancel
    actions={**{name: Action(name, frozenset(states), transient) for name, states, transient, _ in ACTIONS},
             # capture: clean when STOPPED, crash-consistent while STARTED or PAUSED (the guest runs on)
             "capture": Action("capture", frozenset({"STOPPED", "STARTED", "PAUSED"}), href="machineImages"),
             "export": Action("export", frozenset({"STOPPED"}))},          # Job: cimi/kinds/ovfexport.py
    capabilities=(("DefaultInitialState", DEFAULT_INITIAL_STATE, "state of a Machine created without initialState"),
                  ("InitialStates", ",".join(INITIAL_STATES), "initialState values a MachineTemplate may ask for"),
                  ("MachineTemplateByValue", "true", "machineTemplate may be given by value"),
                  ("MachineConfigByValue", "true", "machineConfig may be given by value"),
                  ("MachineImageByValue", "false", "machineImage must be a reference"),
                  ("MachineCredentialByValue", "true", "credential may be given by value"),
                  ("MachineVolumeTemplatesByValue", "false", "volumeTemplates are not instantiated"),
                  ("MachineStopForce", "true", "stop and restart accept force"),
                  ("MachineStopForceDefault", "false", "stop without force shuts down cleanly"),
                  ("RestoreFromImage", "false", "restore is not offered"),
                  ("UserData", "disk", "userData reaches the guest on a config drive"))))

register(Kind("Disk", "disks", parent="Machine", editable=False, deletable_states=frozenset()))
register(Kind("MachineNetworkInterface", "networkInterfaces", parent="Machine", editable=False,
              deletable_states=frozenset()))


def _attach(ctx, body, parent):
    if parent["state"] not in ("STARTED", "STOPPED"):
        raise errors.Conflict(f"volumes attach to STARTED or STOPPED machines, not {parent['state']}")
    volume = templates.referenced(ctx, "Volume", body.get("volume"), ("AVAILABLE",), "volume")
    if attached_to(volume["id"]):
        raise errors.Conflict(f"Volume {volume['id']} is already attached")
    if volume["data"].get("_host") not in (None, parent["data"].get("host")):
        raise errors.Conflict(f"the Volume lives on {volume['data']['_host']} and the Machine on "
                              f"{parent['data'].get('host')}; a Volume attaches on its own host")
    location = body.get("initialLocation")
    return Created({"data": {"volume": body["volume"], "_volume": volume["id"],
                             **attachment(location, device(location))}},
                   job="MachineVolume.attach")


@jobs.handler("MachineVolume.attach")
def _run_attach(job):
    row = store.get("MachineVolume", job.payload["id"])
    machine = store.get("Machine", row["parent"])
    volume = store.get("Volume", row["data"]["_volume"])
    target = job.backend.attach_volume(backend_key(machine), volume["data"]["_key"], row["data"].get("_device"))
    store.update("MachineVolume", row["id"], {"data": {**row["data"],
                                                       **attachment(row["data"].get("initialLocation"), target)}})


@jobs.handler("MachineVolume.detach")
def _run_detach(job):
    row = store.get("MachineVolume", job.payload["id"])
    machine = store.get("Machine", row["parent"])
    volume = store.get("Volume", row["data"]["_volume"])
    job.backend.detach_volume(backend_key(machine), volume["data"]["_key"])
    store.delete("MachineVolume", row["id"])


def _attach_failed(ctx, row):
    """An attach that failed leaves no MachineVolume behind."""
    store.delete("MachineVolume", row["id"])


register(Kind("MachineVolume", "volumes", parent="Machine", create_schema="MachineVolume", create=_attach,
              editable=False, delete=lambda ctx, row: "MachineVolume.detach", refresh=_attach_failed))
