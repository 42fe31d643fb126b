"""Users as resources (`users`, an extension): the checks and secrets of adding, changing and deleting one.

Administrators manage users through the API or on the host (`cimi-server
users`, cimi/auth.py); both check names here and keep only a salted scrypt
hash of a password. A user's name signs them in and owns what they make, so
it never changes; an administrator cannot delete or demote themself, so that
someone is always left to manage the cloud. A user who still owns resources
is not deleted: a later user given the same name would own them.
"""
import hashlib
import os

from cimi import errors, registry, store
from cimi.ops.resources import Created
from cimi.store import users as stored

_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1, "dklen": 32}


def hash_password(password, salt):
    return hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)


def new_secret(password):
    """A fresh salt and the password's hash, as the data keys that keep them."""
    salt = os.urandom(16)
    return stored.secret(salt, hash_password(password, salt))


def check_name(name):
    # HTTP Basic ends the name at the first ':'; the name also names the user's import directory.
    if (not name or len(name) > 128 or name != name.strip() or not name.isprintable()
            or any(c in name for c in ":/\\") or name in (".", "..")):
        raise errors.BadRequest(f"user name {name!r} refused: HTTP sign-in and import directories need a name of "
                                "1 to 128 characters without ':', '/', '\\', control characters, or leading or "
                                "trailing spaces")


def check_groups(groups):
    for group in groups:
        if not group or len(group) > 128 or not group.isprintable() or ":" in group or group != group.strip():
            raise errors.BadRequest(f"group name {group!r} refused: give one of 1 to 128 characters without ':', "
                                    "control characters, or leading or trailing spaces")


def prepare(ctx, body, parent):
    """Check a new user (a unique, valid name and a password); their row is theirs to read."""
    name = body.get("name")
    check_name(name)
    check_groups(body.get("groups", ()))
    if not body.get("password"):
        raise errors.BadRequest("password: a new user needs one")
    with store.owner_lock("users"):           # held to the end of the admin's transaction (PostgreSQL): no twin
        if stored.get(name) is not None:
            raise errors.Conflict(f"there is already a user {name}; edit it")
    return Created({"owner": name, "data": {"admin": bool(body.get("admin")),
                                            "groups": sorted(set(body.get("groups", ()))),
                                            **new_secret(body["password"])}})


def edited(ctx, row, merged):
    """The attributes to keep after an edit: the name unchanged, a new password hashed, groups checked."""
    if merged.get("name") != row["name"]:
        raise errors.BadRequest(f"name: a user's name cannot change (it owns what {row['name']} made); "
                                "add a new user instead")
    if ctx.user is not None and ctx.user.admin and row["name"] == ctx.user.name and not merged.get("admin"):
        raise errors.Conflict("you cannot take away your own admin rights; another administrator can")
    check_groups(merged.get("groups", ()))
    merged["groups"] = sorted(set(merged.get("groups", ())))
    password = merged.pop("password", None)
    if password:
        merged.update(new_secret(password))
    return merged


# What stays when its owner goes: the user's own record, history, and their Quota (removed with them).
_NOT_HELD = ("User", "Job", "EventLog", "Event", "Quota")


def holdings(name):
    """The kinds of which a user still owns resources (their Jobs only while queued or running)."""
    held = [kind.collection for kind in registry.top_level()
            if kind.name not in _NOT_HELD and store.exists(kind.name, owner=name)]
    if store.exists("Job", owner=name, state=("QUEUED", "RUNNING")):
        held.append("jobs (queued or running)")
    return held


def remove(name):
    """Delete a user who owns nothing any more, with their Quota; return 0 if there was no such user."""
    held = holdings(name)
    if held:
        raise errors.Conflict(f"{name} still owns {', '.join(held)}: delete or hand them over first "
                              "(a later user of the same name would own them)")
    for quota in store.owned("Quota", name):
        store.delete("Quota", quota["id"])
    return stored.remove(name)


def delete(ctx, row):
    """Delete a user now (`remove`); never oneself."""
    if ctx.user is not None and row["name"] == ctx.user.name:
        raise errors.Conflict("you cannot delete yourself; another administrator can")
    remove(row["name"])
