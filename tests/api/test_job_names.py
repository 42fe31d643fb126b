"""What a Job row names its operation by: derived from the function, resolved through the kinds' declarations.

Front ends sharing one database run each other's Jobs, so the row stores a
name (module:qualname), never the function; rows written by servers before
2026-11 name `<Kind>.<action>` and still run.
"""
import pytest

from cimi import jobs, kinds, registry, store
from cimi.context import Context
from cimi.ops import attachments, images, machines, networks, ovf_export, ovf_import, systems, volumes
from cimi.store import db
from tests.conftest import machine_body

#: Every handler name a Job row of a pre-2026-11 server may hold, and the operation it means now.
LEGACY = {"Machine.create": machines.create, "Machine.delete": machines.delete, "Machine.start": machines.start,
          "Machine.stop": machines.stop, "Machine.restart": machines.restart, "Machine.pause": machines.pause,
          "Machine.suspend": machines.suspend, "Machine.export": ovf_export.machine_export,
          "MachineVolume.attach": attachments.create, "MachineVolume.detach": attachments.delete,
          "MachineImage.capture": images.capture, "MachineImage.register": images.register,
          "MachineImage.delete": images.delete, "Volume.create": volumes.create, "Volume.delete": volumes.delete,
          "VolumeImage.snapshot": volumes.snapshot, "VolumeImage.delete": volumes.delete_image,
          "Network.create": networks.create, "Network.start": networks.start, "Network.stop": networks.stop,
          "Network.delete": networks.delete, "System.create": systems.create, "System.delete": systems.delete,
          "System.start": systems.start, "System.stop": systems.stop, "System.restart": systems.restart,
          "System.pause": systems.pause, "System.suspend": systems.suspend, "System.export": ovf_export.system_export,
          "SystemTemplate.import": ovf_import.run}


@pytest.mark.parametrize("legacy", sorted(LEGACY))
def test_old_rows_names_resolve_to_the_declared_operation(legacy):
    kinds.load_all()
    fn = registry.operation(legacy)
    assert fn is LEGACY[legacy]
    name = registry.job_name(fn)
    assert name == f"{fn.__module__}:{fn.__qualname__}" and registry.operation(name) is fn


def test_an_undeclared_function_has_no_job_name():
    with pytest.raises(RuntimeError):
        registry.job_name(test_an_undeclared_function_has_no_job_name)
    assert registry.operation("Machine.nothing") is None


def test_a_new_job_row_stores_the_derived_name(admin):
    resp, _ = admin.create("machines", machine_body(admin, "named"))
    record = db.model_for("Job").get_by_id(resp.headers["CIMI-Job-URI"].rsplit("/", 1)[-1])
    assert record.handler == "cimi.ops.machines:create"


def test_a_job_queued_by_an_older_server_runs(cloud, admin):
    _, machine = admin.create("machines", machine_body(admin, "old-row"))
    row_id = machine["id"].rsplit("/", 1)[-1]
    store.update("Machine", row_id, {"state": "STOPPING"})
    ctx = Context(user=None, base="http://falconframework.org/cimi/", cloud=cloud)
    job = jobs.submit(ctx, jobs.JobSpec("Machine.stop", machine["id"], "stop",
                                        {"id": row_id, "params": {"force": True}, "from": "STARTED"},
                                        target=("Machine", row_id)))
    assert admin.wait(machine["id"].rsplit("/machines/", 1)[0] + "/jobs/" + job["id"])["state"] == "SUCCESS"
    assert store.get("Machine", row_id)["state"] == "STOPPED"
