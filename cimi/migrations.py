"""Versioned schema migrations, applied in order at start.

Each step is a function of the database; `SchemaVersion` records the last
one applied. Steps never change once released: add a new one instead.
"""
import logging
import uuid

import peewee

from cimi import db

log = logging.getLogger(__name__)


def _v1_initial(database, kind_names):
    database.create_tables([db.User, *(db.model_for(k) for k in kind_names)])


# Machine attributes kept in `data` that clients sort by (bench/query.py: `$orderby=memory:desc`).
_SORTED_MACHINE_ATTRIBUTES = ("cpu", "memory")


def _v2_query_indexes(database, kind_names):
    """PostgreSQL: indexes the collection queries of cimi/query/sql.py can use (docs/performance.md).

    * `state COLLATE "C"` on every kind: the compiler compares strings under
      the "C" collation, so the plain `state` index of step 1 is never used there.
    * Machine's sizes, on exactly the compiler's expression (a jsonb value) and
      in `DESC NULLS LAST` order, the order of `$orderby=memory:desc`: the
      page is then read in index order and stops after `$last` matches instead
      of parsing and sorting every matching row.

    SQLite: one covering index for the usual Machine listing (state, cpu,
    memory, name, and the paging tie-breaks created, id), on the compiler's
    `json_extract(data, '$.x')` (it writes paths literally so that they match):
    the count and the choice of a page's ids then read the index alone.
    """
    if not isinstance(database, peewee.PostgresqlDatabase):
        if "Machine" in kind_names:
            table = db.table_name("Machine")
            database.execute_sql(f'CREATE INDEX IF NOT EXISTS "{table}_state_sizes" ON "{table}" '
                                 "(state, json_extract(data, '$.cpu'), json_extract(data, '$.memory'), name, created, id)")
        return
    for kind_name in kind_names:
        table = db.table_name(kind_name)
        database.execute_sql(f'CREATE INDEX IF NOT EXISTS "{table}_state_c" ON "{table}" (state COLLATE "C")')
    table = db.table_name("Machine")
    if "Machine" in kind_names:
        for attribute in _SORTED_MACHINE_ATTRIBUTES:
            database.execute_sql(
                f'CREATE INDEX IF NOT EXISTS "{table}_{attribute}_desc" ON "{table}" '
                f"((CAST(data AS jsonb) #> '{{{attribute}}}') DESC NULLS LAST)")



def _v3_identity(database, kind_names):
    """Give the installation an identity that names what it makes on shared hosts."""
    database.create_tables([db.Setting])
    db.Setting.insert(key="cloud_id", value=uuid.uuid4().hex[:8]).on_conflict_ignore().execute()


def _v4_exported_packages(database, kind_names):
    """Exports became resources (ExportedPackage): their table."""
    if "ExportedPackage" in kind_names:
        database.create_tables([db.model_for("ExportedPackage")])


STEPS = [_v1_initial, _v2_query_indexes, _v3_identity, _v4_exported_packages]


def migrate(database, kind_names):
    """Bring the schema up to date; safe to run from several front ends at once."""
    with db.exclusive(database):
        database.create_tables([db.SchemaVersion])
        row = db.SchemaVersion.select().order_by(db.SchemaVersion.version.desc()).first()
        current = row.version if row else 0
        for number, step in enumerate(STEPS[current:], start=current + 1):
            log.info("applying schema migration %d (%s)", number, step.__name__)
            step(database, kind_names)
            db.SchemaVersion.create(version=number)
    return len(STEPS)
