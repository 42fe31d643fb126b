"""Users as plain data, kept as rows of the `User` kind (the `users` collection, migration 13).

A user's row is named and owned by the user (they read their own); its
data holds `admin`, `groups` and the password's salt and scrypt hash (`_salt`,
`_hash`: internal keys, never shown). The group memberships sharing reads
(group_member) follow `groups` whenever the store writes a row (sharing.follow).
"""
from dataclasses import dataclass
import datetime

from cimi import store
from cimi.store import sharing

KIND = sharing.USERS


@dataclass(frozen=True)
class User:
    name: str
    salt: bytes
    hash: bytes
    admin: bool = False
    created: datetime.datetime | None = None


def _user(row):
    data = row["data"]
    return User(row["name"], bytes.fromhex(data["_salt"]), bytes.fromhex(data["_hash"]), bool(data.get("admin")),
                row["created"])


def _row(name):
    return store.first(KIND, name=name)


def secret(salt, digest):
    """The data keys that keep a password."""
    return {"_salt": salt.hex(), "_hash": digest.hex()}


def put(name, secret_keys, admin, groups=()):
    """Add a user, or change the password (keys `secret` made) and admin flag of one; add them to `groups`."""
    with store.transaction():
        row = _row(name)
        if row is None:
            store.insert(KIND, {"owner": name, "name": name, "data": {
                "admin": admin, "groups": sorted(set(groups)), **secret_keys}})
        else:
            store.update(KIND, row["id"], {"data": {**row["data"], "admin": admin, **secret_keys,
                                                    "groups": sorted({*row["data"].get("groups", ()), *groups})}},
                         touch=True)


def remove(name):
    """Delete a user with what was shared with them, and the groups left empty; return how many were (0 or 1)."""
    with store.transaction():
        row = _row(name)
        if row is None:
            return 0
        store.revoke(f"user:{name}")
        for group in sharing.groups_of(name):
            if sharing.members(group) == [name]:
                store.revoke(sharing.group_principal(group))
        sharing.leave(name)
        store.delete(KIND, row["id"])
        return 1


def remove_group(group):
    """Delete a group with what was shared with it; return how many members it had."""
    with store.transaction():
        store.revoke(sharing.group_principal(group))
        members = sharing.members(group)
        for name in members:
            row = _row(name)
            store.update(KIND, row["id"], {"data": {
                **row["data"], "groups": [g for g in row["data"].get("groups", ()) if g != group]}}, touch=True)
        return len(members)


def get(name):
    """Return a User, or None."""
    row = _row(name)
    return _user(row) if row else None


changes = sharing.user_changes

def groups_of(name):
    return sharing.groups_of(name)


def all_users():
    return sorted((_user(r) for r in store.rows(KIND)), key=lambda u: u.name)


def any_user():
    return store.exists(KIND)
