"""Machine and its sub-collections (disks, volumes, networkInterfaces): declarations.

What each action does is in cimi/ops/machines.py and cimi/ops/attachments.py.
"""
from cimi.ops import attachments, machines, ovf_export, quarantine
from cimi.ops.machines import DEFAULT_INITIAL_STATE, INITIAL_STATES, STABLE
from cimi.registry import Action, Kind, View, register
from cimi.store.links import KEEP, Link
from cimi.vocabulary import extension_uri

ACTIONS = [("start", {"STOPPED", "PAUSED", "SUSPENDED", "ERROR"}, "STARTING", machines.start),
           ("stop", {"STARTED", "PAUSED", "STOPPING", "ERROR"}, "STOPPING", machines.stop),
           ("restart", {"STARTED", "STOPPED", "ERROR"}, "STARTING", machines.restart),
           ("pause", {"STARTED"}, "PAUSING", machines.pause),
           ("suspend", {"STARTED"}, "SUSPENDING", machines.suspend)]
# In ERROR an action works only on a domain the hypervisor still has: start and
# restart boot it (afresh), stop powers off one that still runs.
_ERROR_OFFERS = {"start": ("active", "inactive"), "restart": ("active", "inactive"), "stop": ("active",)}


def _offered_in_error(name):
    return lambda row: row["state"] != "ERROR" or row["data"].get("_domain") in _ERROR_OFFERS[name]


register(Kind(
    "Machine", "machines", create_schema="MachineCreate", create=machines.prepare, refresh=machines.refresh,
    delete=lambda ctx, row: quarantine.instead(ctx, "machines", row, machines.delete),
    deletable_states=STABLE | {"FAILED", "CREATING"},  # CREATING: cancel
    jobs={"create": machines.create, "delete": machines.delete, "quarantine": quarantine.keep_machine},
    actions={**{name: Action(name, frozenset(states), transient, handler=handler, condition=_offered_in_error(name))
                for name, states, transient, handler in ACTIONS},
             # capture: clean when STOPPED, crash-consistent while STARTED or PAUSED (the guest runs on)
             "capture": Action("capture", frozenset({"STOPPED", "STARTED", "PAUSED"}), href="machineImages"),
             "export": Action("export", frozenset({"STOPPED"}), handler=ovf_export.machine_export)},
    views={"console": View("console", extension_uri("console"), machines.console)},
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
                  ("UserData", "disk", "userData reaches the guest on a config drive")),
    metered={"cpu": "cpu", "memory": "memory"},
    links=(Link("_image", "MachineImage"),               # its disks are overlays of the image
           Link("_madeVolumes/[]/id", "Volume", KEEP))))   # made from its template's volumeTemplates

register(Kind("Disk", "disks", parent="Machine", editable=False, deletable_states=frozenset()))
register(Kind("MachineNetworkInterface", "networkInterfaces", parent="Machine", editable=False,
              deletable_states=frozenset(), links=(Link("network", "Network"),)))


register(Kind("MachineVolume", "volumes", parent="Machine", create_schema="MachineVolume", create=attachments.prepare,
              editable=False, delete=lambda ctx, row: attachments.delete, refresh=attachments.settle_attachment,
              jobs={"attach": attachments.create, "detach": attachments.delete},
              links=(Link("_volume", "Volume"),)))
