"""Users as plain data: name, salted password hash, admin flag."""
from dataclasses import dataclass
import datetime

from cimi.store import db


@dataclass(frozen=True)
class User:
    name: str
    salt: bytes
    hash: bytes
    admin: bool = False
    created: datetime.datetime | None = None


def _user(record):
    return User(record.name, bytes(record.salt), bytes(record.hash), bool(record.admin), record.created)


def put(name, salt, digest, admin):
    """Add a user, or change the password and admin flag of one."""
    db.User.insert(name=name, salt=salt, hash=digest, admin=admin).on_conflict(
        conflict_target=[db.User.name], update={db.User.salt: salt, db.User.hash: digest,
                                                db.User.admin: admin}).execute()


def remove(name):
    """Delete a user; return how many were (0 or 1)."""
    return db.User.delete().where(db.User.name == name).execute()


def get(name):
    """Return a User, or None."""
    record = db.User.get_or_none(db.User.name == name)
    return _user(record) if record else None


def all_users():
    return [_user(r) for r in db.User.select().order_by(db.User.name)]


def any_user():
    return db.User.select().exists()
