"""Versioned schema migrations, applied in order at start.

Each step is a function of the database; `SchemaVersion` records the last
one applied. Steps never change once released: add a new one instead.
"""
import logging

from cimi import db

log = logging.getLogger(__name__)


def _v1_initial(database, kind_names):
    database.create_tables([db.User, *(db.model_for(k) for k in kind_names)])


STEPS = [_v1_initial]


def migrate(database, kind_names):
    """Bring the schema up to date; safe to run from several front ends at once."""
    with database.atomic():
        database.create_tables([db.SchemaVersion])
        row = db.SchemaVersion.select().order_by(db.SchemaVersion.version.desc()).first()
        current = row.version if row else 0
        for number, step in enumerate(STEPS[current:], start=current + 1):
            log.info("applying schema migration %d (%s)", number, step.__name__)
            step(database, kind_names)
            db.SchemaVersion.create(version=number)
    return len(STEPS)
