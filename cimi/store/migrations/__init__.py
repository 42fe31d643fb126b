"""Numbered schema migrations (vNNNN_*.py beside this file), applied in order at start.

Each step is frozen once released: it names its own tables and columns and
never imports today's models (cimi/store/db.py), so that a database made
by any release reaches today's schema through the same steps. Add a new
file rather than change one. `schema_version` records the last step applied.
"""
import importlib
import logging
import pkgutil
import re

import peewee

from cimi.store import db

log = logging.getLogger(__name__)
_STEP = re.compile(r"^v(\d{4})_\w+$")


class SchemaVersion(peewee.Model):
    version = peewee.IntegerField()

    class Meta:
        table_name = "schemaversion"


def steps():
    """The migration modules, in order; their numbers run 1, 2, 3... without gaps."""
    found = sorted((int(m.group(1)), info.name) for info in pkgutil.iter_modules(__path__)
                   if (m := _STEP.match(info.name)))
    if [number for number, _ in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"schema migrations are not numbered 1..n: {[name for _, name in found]}")
    return [importlib.import_module(f"{__name__}.{name}") for _, name in found]


def migrate(database, until=None):
    """Bring the schema up to date (or to step `until`), and on SQLite the planner's statistics; return the version.

    Safe to run from several front ends at once.
    """
    todo = steps()[:until]
    with db.exclusive(database), SchemaVersion.bind_ctx(database):
        database.create_tables([SchemaVersion])
        row = SchemaVersion.select().order_by(SchemaVersion.version.desc()).first()
        current = row.version if row else 0
        for number, step in enumerate(todo[current:], start=current + 1):
            log.info("applying schema migration %d (%s)", number, step.__name__.rsplit(".", 1)[-1])
            step.apply(database)
            SchemaVersion.create(version=number)
    if isinstance(database, peewee.SqliteDatabase):
        # NOTE: the query planner's statistics, for a store that grew since it was last opened
        # (sampled: milliseconds per table; PostgreSQL's autovacuum keeps its own).
        database.execute_sql("ANALYZE")
    return len(todo)
