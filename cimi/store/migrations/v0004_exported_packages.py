"""Exports became resources (ExportedPackage): their table."""
from cimi.store.migrations.v0001_initial import resource_table


def apply(database):
    model = resource_table("exported_package")
    with database.bind_ctx([model]):
        database.create_tables([model])
