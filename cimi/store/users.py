"""Users as plain data: name, salted password hash, admin flag."""
from dataclasses import dataclass
import datetime

from cimi import store
from cimi.store import db, sharing


@dataclass(frozen=True)
class User:
    name: str
    salt: bytes
    hash: bytes
    admin: bool = False
    created: datetime.datetime | None = None


def _user(record):
    return User(record.name, bytes(record.salt), bytes(record.hash), bool(record.admin), record.created)


def put(name, salt, digest, admin, groups=()):
    """Add a user, or change the password and admin flag of one; add them to `groups`."""
    with db.database.atomic():
        db.User.insert(name=name, salt=salt, hash=digest, admin=admin).on_conflict(
            conflict_target=[db.User.name], update={db.User.salt: salt, db.User.hash: digest,
                                                    db.User.admin: admin}).execute()
        for group in groups:
            sharing.join(name, group)


def remove(name):
    """Delete a user with what was shared with them, and the groups left empty; return how many were (0 or 1)."""
    with db.database.atomic():
        store.revoke(f"user:{name}")
        for group in sharing.groups_of(name):
            if sharing.members(group) == [name]:
                store.revoke(sharing.group_principal(group))
        db.Membership.delete().where(db.Membership.user_name == name).execute()
        return db.User.delete().where(db.User.name == name).execute()


def remove_group(group):
    """Delete a group with what was shared with it; return how many members it had."""
    with db.database.atomic():
        store.revoke(sharing.group_principal(group))
        return db.Membership.delete().where(db.Membership.principal == sharing.group_principal(group)).execute()


def get(name):
    """Return a User, or None."""
    record = db.User.get_or_none(db.User.name == name)
    return _user(record) if record else None


def groups_of(name):
    return sharing.groups_of(name)


def all_users():
    return [_user(r) for r in db.User.select().order_by(db.User.name)]


def any_user():
    return db.User.select().exists()
