"""Deleted Machines, Volumes and MachineImages may wait in quarantine (QuarantinedResource): their table."""
from cimi.store.migrations.v0001_initial import resource_table


def apply(database):
    model = resource_table("quarantined_resource")
    with database.bind_ctx([model]):
        database.create_tables([model])
