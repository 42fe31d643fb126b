"""Read-only sharing: who besides a row's owner may read it, kept as grants in an indexed table.

A shareable kind's rows (schemas.shareable: the schema has an `acl`) say in
their data who may read them, as Nuvla does: {"owner": "user:alice",
"rules": [{"principal": "user:bob" | "group:devs" | "everyone", "right":
"VIEW"}]}. The store keeps one grant per (kind, principal, row) equal to
those rules, written with the row, so that what a user may read is one
indexed subquery in every listing, $filter, $expand and reference check
(store.visible, store.readable). Rights are read-only: writing stays the
owner's and the administrators'.
"""
import schemas
from cimi.store import db

EVERYONE = "everyone"


def shareable(kind_name):
    return schemas.shareable(kind_name)


def principals(data):
    """The principals a row's data grants reading to."""
    acl = (data or {}).get("acl") or {}
    return {rule["principal"] for rule in acl.get("rules", ()) if rule.get("right") == "VIEW"}


def write(kind_name, row_id, data):
    """Make the row's grants what its data's acl says (in the caller's transaction)."""
    wanted = principals(data)
    Grant = db.Grant
    held = {g.principal for g in Grant.select(Grant.principal).where(Grant.kind == kind_name,
                                                                     Grant.row_id == row_id)}
    if held - wanted:
        Grant.delete().where(Grant.kind == kind_name, Grant.row_id == row_id,
                             Grant.principal.in_(sorted(held - wanted))).execute()
    if wanted - held:
        Grant.insert_many([{"kind": kind_name, "row_id": row_id, "principal": p}
                           for p in sorted(wanted - held)]).execute()


def forget(kind_name, row_ids):
    db.Grant.delete().where(db.Grant.kind == kind_name, db.Grant.row_id.in_(list(row_ids))).execute()


def _reaching(user_name):
    """The condition on Grant.principal of the grants that reach a user: theirs, their groups', everyone's.

    NOTE: one list (the groups read first, a lookup on an index) rather than an OR of two lists: each
    database then reads just those principals' grants off the (kind, principal, row_id) key.
    """
    groups = [m.principal for m in db.Membership.select(db.Membership.principal).where(
        db.Membership.user_name == user_name)]
    return db.Grant.principal.in_([f"user:{user_name}", EVERYONE, *groups])


def granted_ids(kind_name, user_name):
    """A subquery of the ids of the rows of a kind shared with a user."""
    return db.Grant.select(db.Grant.row_id).where(db.Grant.kind == kind_name, _reaching(user_name))


def granted(kind_name, row_id, user_name):
    """Whether a row is shared with a user."""
    return db.Grant.select().where(db.Grant.kind == kind_name, db.Grant.row_id == row_id,
                                   _reaching(user_name)).exists()


def holders(principal):
    """(kind, row id) of every row shared with a principal."""
    return [(g.kind, g.row_id) for g in db.Grant.select(db.Grant.kind, db.Grant.row_id).where(
        db.Grant.principal == principal)]


# --- groups --------------------------------------------------------------------------

USERS = "User"          # the kind whose rows' `groups` are the memberships (cimi/store/users.py)
_user_writes = 0        # how many times this process wrote a user: what a cache of signed-in users checks


def user_changes():
    """A number that changes whenever this process adds, changes or deletes a user."""
    return _user_writes


def follow(row):
    """Make a User row's group memberships what its `groups` say (in the caller's transaction)."""
    global _user_writes
    _user_writes += 1
    Membership = db.Membership
    wanted = {group_principal(g) for g in row["data"].get("groups", ())}
    held = {m.principal for m in Membership.select(Membership.principal).where(Membership.user_name == row["name"])}
    if held - wanted:
        Membership.delete().where(Membership.user_name == row["name"],
                                  Membership.principal.in_(sorted(held - wanted))).execute()
    if wanted - held:
        Membership.insert_many([{"principal": p, "user_name": row["name"]} for p in sorted(wanted - held)]).execute()


def leave(user_name):
    """Take a deleted user out of every group."""
    global _user_writes
    _user_writes += 1
    db.Membership.delete().where(db.Membership.user_name == user_name).execute()


def group_principal(group):
    return f"group:{group}"


def groups_of(user_name):
    return sorted(m.principal.removeprefix("group:") for m in db.Membership.select().where(
        db.Membership.user_name == user_name))


def members(group):
    return sorted(m.user_name for m in db.Membership.select().where(
        db.Membership.principal == group_principal(group)))


def all_groups():
    return sorted({m.principal.removeprefix("group:") for m in db.Membership.select(db.Membership.principal)})
