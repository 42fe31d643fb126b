"""Indexes the collection queries can use (docs/performance.md).

PostgreSQL: `state COLLATE "C"` on every kind (the query compiler compares
strings under the "C" collation, so the plain `state` index is never used
there), and Machine's sizes on exactly the compiler's jsonb expression in
`DESC NULLS LAST` order, the order of `$orderby=memory:desc`.

SQLite: one covering index for the usual Machine listing (state, cpu,
memory, name, and the paging tie-breaks created, id) on the compiler's
`json_extract(data, '$.x')`.
"""
import peewee

from cimi.store.migrations.v0001_initial import KINDS


def apply(database):
    if not isinstance(database, peewee.PostgresqlDatabase):
        database.execute_sql('CREATE INDEX IF NOT EXISTS "machine_state_sizes" ON "machine" '
                             "(state, json_extract(data, '$.cpu'), json_extract(data, '$.memory'), name, created, id)")
        return
    for table in (*KINDS, "job"):
        database.execute_sql(f'CREATE INDEX IF NOT EXISTS "{table}_state_c" ON "{table}" (state COLLATE "C")')
    for attribute in ("cpu", "memory"):
        database.execute_sql(f'CREATE INDEX IF NOT EXISTS "machine_{attribute}_desc" ON "machine" '
                             f"((CAST(data AS jsonb) #> '{{{attribute}}}') DESC NULLS LAST)")
