"""System and SystemTemplate: several Machines, Volumes, Networks and Credentials as one.

Operations: cimi/ops/systems.py (components made, acted on and deleted inside
the System's Job), cimi/ops/ovf_export.py, cimi/ops/ovf_import.py.
"""
from cimi import registry
from cimi.kinds import machine  # noqa: F401 (Machine first: Systems take its actions' states)
from cimi.ops import ovf_export, ovf_import, ovf_submit, systems
from cimi.registry import Action, Kind, register
from cimi.store.links import CASCADE, KEEP, Link

#: Machine actions a System fans out to its machines, and the operation doing it.
FAN_OUT = {"start": systems.start, "stop": systems.stop, "restart": systems.restart, "pause": systems.pause,
           "suspend": systems.suspend}

register(Kind("System", "systems", create_schema="SystemCreate", create=systems.prepare, refresh=systems.refresh,
              delete=lambda ctx, row: systems.delete,
              deletable_states=frozenset({"STARTED", "STOPPED", "PAUSED", "SUSPENDED", "MIXED", "ERROR"}),
              actions={**{n: Action(n, frozenset(registry.get("Machine").actions[n].from_states | {"MIXED"}),
                                    handler=handler)
                          for n, handler in FAN_OUT.items()},
                       # all machines STOPPED
                       "export": Action("export", frozenset({"STOPPED"}), handler=ovf_export.system_export)},
              jobs={"create": systems.create, "delete": systems.delete},
              capabilities=(("SystemComponentTemplateByValue", "true", "component templates may be given by value"),)))
for _type, (_, _collection) in systems.COMPONENTS.items():
    register(Kind("System" + _type, _collection, parent="System", editable=False, deletable_states=frozenset(),
                  links=(Link("_member", _type, CASCADE),)))      # a member deleted alone leaves the System
register(Kind("SystemTemplate", "systemTemplates", create_schema="SystemTemplate",
              delete=lambda ctx, row: systems.delete_template if row["data"].get("_made") else None,
              links=(Link("_made/[]", None, KEEP),),
              collection_actions={"import": ovf_submit.start_import}, refresh=ovf_import.import_failed,
              uploads={media: ovf_submit.receive_package for media in ovf_submit.PACKAGE_TYPES},
              jobs={"import": ovf_import.run, "delete": systems.delete_template}))
