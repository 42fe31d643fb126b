"""System operations: several Machines, Volumes, Networks and Credentials as one.

A System's components are created, acted on and deleted inside the System's
own Job (operations run inline), so a busy server cannot deadlock on workers.
"""
from cimi import errors, registry, represent, store, templates
from cimi.store.links import BLOCK
from cimi.ops import machines, usage
from cimi.ops.resources import Created, insert, remove


# component type -> (its template attribute in a create body, its System sub-collection)
COMPONENTS = {"Machine": ("machineTemplate", "machines"), "Volume": ("volumeTemplate", "volumes"),
              "Network": ("networkTemplate", "networks"), "Credential": ("credentialTemplate", "credentials")}


ORDER = ("Credential", "Network", "Volume", "Machine")     # what a Machine may refer to comes first


def _components(ctx, template):
    out = []
    for i, desc in enumerate(template.get("componentDescriptors", ())):
        type_name = desc["type"].rsplit("/", 1)[-1]
        attr = COMPONENTS[type_name][0]
        if attr not in desc:
            raise errors.BadRequest(f"componentDescriptors/{i}: a {type_name} component needs {attr}")
        out.append({"type": type_name, "name": desc.get("name"), "description": desc.get("description"),
                    "properties": desc.get("properties"), "template": desc[attr],
                    "quantity": desc.get("quantity", 1)})
    return sorted(out, key=lambda c: ORDER.index(c["type"]))


def prepare(ctx, body, parent):
    """Check a System create request; the Job makes its components."""
    template = templates.by_value(ctx, "SystemTemplate", body["systemTemplate"], "systemTemplate")
    components = _components(ctx, template)
    usage.precheck(ctx, lambda: _demand(ctx, components))
    return Created({"state": "CREATING", "data": {}}, job=create, payload={"components": components})


def _demand(ctx, components):
    """What the System's Machines and Volumes will consume, prepared as their Job will make them."""
    asked = dict.fromkeys(usage.LIMITS, 0)
    for component in components:
        if component["type"] in usage.COUNTED:
            kind = registry.get(component["type"])
            made = kind.create(ctx, {COMPONENTS[kind.name][0]: component["template"]}, None)
            for name, amount in usage.demand(ctx, kind.name, made.fields["data"], made.payload).items():
                asked[name] += amount * component["quantity"]
    return asked


def create(job):
    system = store.get("System", job.payload["id"])
    for component in job.payload["components"]:
        kind = registry.get(component["type"])
        attr, collection = COMPONENTS[component["type"]]
        for n in range(component["quantity"]):
            name = component["name"]
            if name and component["quantity"] > 1:
                name = f"{name}{n + 1}"
            body = {k: v for k, v in (("name", name), ("description", component["description"]),
                                      ("properties", component["properties"]), (attr, component["template"])) if v}
            row = _add_inline(job, kind, body)
            member = registry.by_collection(collection, "System")
            store.insert(member.name, {"owner": system["owner"], "parent": system["id"],
                                       "data": {kind.name[0].lower() + kind.name[1:]: {
                                           "href": represent.href(job.ctx, kind, row)}, "_member": row["id"]}})
            job.affect(represent.href(job.ctx, kind, row))
    record_state(system["id"])


def _add_inline(job, kind, body):
    """Create a component with the kind's own pipeline, running its Job here."""
    row, created = insert(job.ctx, kind, body)
    if created.job:
        job.inline(created.job, {**created.payload, "id": row["id"]})
    return store.get(kind.name, row["id"])


def _machine_changed(machine_id):
    """Keep the state of the Systems holding a machine in line with it."""
    for member in store.referrers("Machine", machine_id, source_kind="SystemMachine"):
        entry = store.find("SystemMachine", member.id)
        if entry is not None:
            record_state(entry["parent"])


machines.STATE_LISTENERS.append(_machine_changed)


def machines_of(system_id):
    return [store.get("Machine", m["data"]["_member"]) for m in store.children("SystemMachine", system_id)
            if store.find("Machine", m["data"]["_member"])]


def record_state(system_id):
    """A System is in a state when all its machines are, else MIXED (DSP0263 5.13.1)."""
    states = {m["state"] for m in machines_of(system_id)}
    store.set_state("System", system_id, states.pop() if len(states) == 1 else "MIXED")


def _fan_out(job, name):
    """Apply a Machine action to every member machine that allows it now."""
    action = registry.get("Machine").actions[name]
    failures = []
    for member in machines_of(job.payload["id"]):
        if member["state"] not in action.from_states:
            continue
        try:
            job.inline(action.handler, {"id": member["id"], "params": job.payload.get("params", {}),
                                        "from": member["state"]})
        except Exception as exc:                   # noqa: BLE001 - one machine's failure leaves the rest
            failures.append(f"{member['id']}: {exc}")
    record_state(job.payload["id"])
    if failures:
        raise errors.Conflict(f"{name} failed on: " + "; ".join(failures))


def start(job):
    _fan_out(job, "start")


def stop(job):
    _fan_out(job, "stop")


def restart(job):
    _fan_out(job, "restart")


def pause(job):
    _fan_out(job, "pause")


def suspend(job):
    _fan_out(job, "suspend")



def _delete_owned(job, kind_name, row_id):
    """Delete a resource that a System or an import owns with its kind's own delete, in this Job.

    One still used through a blocking link (a Machine made from an imported
    image) stays.
    """
    row = store.find(kind_name, row_id)
    if row is None or any(r.on_delete == BLOCK for r in store.referrers(kind_name, row_id)):
        return
    kind = registry.get(kind_name)
    operation = kind.delete(job.ctx, row) if kind.delete else None
    if operation:
        job.inline(operation, {"id": row["id"]})
    else:
        remove(kind, row)


def delete(job):
    system = store.get("System", job.payload["id"])
    for type_name in reversed(ORDER):
        member = registry.by_collection(COMPONENTS[type_name][1], "System")
        for link in store.children(member.name, system["id"]):
            _delete_owned(job, type_name, link["data"]["_member"])
    remove(registry.get("System"), system)


def delete_template(job):
    """An imported SystemTemplate owns what its import made: they go with it, newest first."""
    template = store.get("SystemTemplate", job.payload["id"])
    remove(registry.get("SystemTemplate"), template)
    for kind_name, row_id in reversed(template["data"]["_made"]):
        _delete_owned(job, kind_name, row_id)


def refresh(ctx, row):
    if row["state"] == "CREATING":
        store.set_state("System", row["id"], "ERROR")
    else:
        record_state(row["id"])
