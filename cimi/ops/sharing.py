"""The `acl` a client gives a shareable resource, checked and completed before the store keeps it.

The store (cimi/store/sharing.py) turns an acl's rules into grants; this
says which acls are acceptable: rules naming users and groups that exist
(or everyone), each once, and an owner that is the resource's own.
"""
from cimi import errors
from cimi.store import sharing, users


def owner_principal(owner):
    return None if owner is None else f"user:{owner}"


def checked(owner, acl):
    """Return the acl to store on a resource owned by `owner` (None: the provider), or raise BadRequest."""
    principal = owner_principal(owner)
    if acl.get("owner") not in (None, principal):
        raise errors.BadRequest(f"acl/owner: the owner of this resource is {principal or 'the provider'}; "
                                "sharing cannot change it")
    rules, seen = [], set()
    for rule in acl.get("rules", ()):
        name = rule["principal"]
        if name.startswith("user:") and users.get(name.removeprefix("user:")) is None:
            raise errors.BadRequest(f"acl/rules: no user {name.removeprefix('user:')}")
        if name.startswith("group:") and not sharing.members(name.removeprefix("group:")):
            raise errors.BadRequest(f"acl/rules: no group {name.removeprefix('group:')}")
        if name not in seen and name != principal:
            seen.add(name)
            rules.append({"principal": name, "right": rule["right"]})
    return {**({"owner": principal} if principal else {}), "rules": rules}
