"""Quotas became resources (Quota): their table."""
from cimi.store.migrations.v0001_initial import resource_table


def apply(database):
    model = resource_table("quota")
    with database.bind_ctx([model]):
        database.create_tables([model])
