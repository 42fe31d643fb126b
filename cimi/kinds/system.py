"""System and SystemTemplate: several Machines, Volumes, Networks and Credentials as one.

A System's components are created, acted on and deleted inside the System's
own Job (handlers run inline), so a busy server cannot deadlock on workers.
"""
from cimi import crud, errors, jobs, registry, represent, store, templates
from cimi.kinds import machine, ovfexport, ovfimport  # noqa: F401 (ovfexport registers the export Jobs)
from cimi.crud import Created
from cimi.registry import Action, Kind, register
from cimi.store.links import BLOCK, CASCADE, KEEP, Link

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


def _create(ctx, body, parent):
    template = templates.by_value(ctx, "SystemTemplate", body["systemTemplate"], "systemTemplate")
    components = _components(ctx, template)
    return Created({"state": "CREATING", "data": {}}, job="System.create", payload={"components": components})


@jobs.handler("System.create")
def _run_create(job):
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
    row, created = crud.insert(job.ctx, kind, body)
    if created.job:
        jobs.run_inline(job, created.job, {**created.payload, "id": row["id"]})
    return store.get(kind.name, row["id"])


def _machine_changed(machine_id):
    """Keep the state of the Systems holding a machine in line with it."""
    for member in store.referrers("Machine", machine_id, source_kind="SystemMachine"):
        entry = store.find("SystemMachine", member.id)
        if entry is not None:
            record_state(entry["parent"])


machine.STATE_LISTENERS.append(_machine_changed)


def machines_of(system_id):
    return [store.get("Machine", m["data"]["_member"]) for m in store.children("SystemMachine", system_id)
            if store.find("Machine", m["data"]["_member"])]


def record_state(system_id):
    """A System is in a state when all its machines are, else MIXED (DSP0263 5.13.1)."""
    states = {m["state"] for m in machines_of(system_id)}
    store.set_state("System", system_id, states.pop() if len(states) == 1 else "MIXED")


def _fan_out(name):
    """Apply a Machine action to every member machine that allows it now."""
    machine_kind = registry.get("Machine")
    action = machine_kind.actions[name]

    def run(job):
        failures = []
        for member in machines_of(job.payload["id"]):
            if member["state"] not in action.from_states:
                continue
            try:
                jobs.run_inline(job, f"Machine.{name}", {"id": member["id"], "params": job.payload.get("params", {}),
                                                          "from": member["state"]})
            except Exception as exc:                   # noqa: BLE001 - one machine's failure leaves the rest
                failures.append(f"{member['id']}: {exc}")
        record_state(job.payload["id"])
        if failures:
            raise errors.Conflict(f"{name} failed on: " + "; ".join(failures))
    return run


SYSTEM_ACTIONS = ("start", "stop", "restart", "pause", "suspend")
for _name in SYSTEM_ACTIONS:
    jobs.handler(f"System.{_name}")(_fan_out(_name))


def _delete_owned(job, kind_name, row_id):
    """Delete a resource that a System or an import owns with its kind's own delete, in this Job.

    One still used through a blocking link (a Machine made from an imported
    image) stays.
    """
    row = store.find(kind_name, row_id)
    if row is None or any(r.on_delete == BLOCK for r in store.referrers(kind_name, row_id)):
        return
    kind = registry.get(kind_name)
    handler = kind.delete(job.ctx, row) if kind.delete else None
    if handler:
        jobs.run_inline(job, handler, {"id": row["id"]})
    else:
        crud.remove(kind, row)


@jobs.handler("System.delete")
def _run_delete(job):
    system = store.get("System", job.payload["id"])
    for type_name in reversed(ORDER):
        member = registry.by_collection(COMPONENTS[type_name][1], "System")
        for link in store.children(member.name, system["id"]):
            _delete_owned(job, type_name, link["data"]["_member"])
    crud.remove(registry.get("System"), system)


@jobs.handler("SystemTemplate.delete")
def _run_delete_template(job):
    """An imported SystemTemplate owns what its import made: they go with it, newest first."""
    template = store.get("SystemTemplate", job.payload["id"])
    crud.remove(registry.get("SystemTemplate"), template)
    for kind_name, row_id in reversed(template["data"]["_made"]):
        _delete_owned(job, kind_name, row_id)


def refresh(ctx, row):
    if row["state"] == "CREATING":
        store.set_state("System", row["id"], "ERROR")
    else:
        record_state(row["id"])


register(Kind("System", "systems", create_schema="SystemCreate", create=_create, refresh=refresh,
              delete=lambda ctx, row: "System.delete",
              deletable_states=frozenset({"STARTED", "STOPPED", "PAUSED", "SUSPENDED", "MIXED", "ERROR"}),
              actions={**{n: Action(n, frozenset(registry.get("Machine").actions[n].from_states | {"MIXED"}))
                          for n in SYSTEM_ACTIONS},
                       "export": Action("export", frozenset({"STOPPED"}))},   # all machines STOPPED
              capabilities=(("SystemComponentTemplateByValue", "true", "component templates may be given by value"),)))
for _type, (_, _collection) in COMPONENTS.items():
    register(Kind("System" + _type, _collection, parent="System", editable=False, deletable_states=frozenset(),
                  links=(Link("_member", _type, CASCADE),)))      # a member deleted alone leaves the System
register(Kind("SystemTemplate", "systemTemplates", create_schema="SystemTemplate",
              delete=lambda ctx, row: "SystemTemplate.delete" if row["data"].get("_made") else None,
              links=(Link("_made/[]", None, KEEP),),
              collection_actions={"import": ovfimport.start_import}, refresh=ovfimport.import_failed,
              uploads={media: ovfimport.receive_package for media in ovfimport.PACKAGE_TYPES}))
