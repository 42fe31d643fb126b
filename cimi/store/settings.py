"""Facts about this installation, by key (its identity)."""
from cimi.store import db


def get(key):
    """Return a setting's value, or None."""
    record = db.Setting.get_or_none(db.Setting.key == key)
    return record.value if record else None
