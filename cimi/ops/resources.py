"""Adding and removing resources through their kinds' hooks, for requests and for Jobs alike.

cimi/crud.py answers requests with these; operations use them to make what
they own (a System's components, a Machine's volumeTemplates, an import's
Networks) with the same checks as a request would get.
"""
from dataclasses import dataclass, field
from typing import Callable

import schemas
from cimi import errors, registry, represent, store
from cimi.ops import sharing, usage
from cimi.vocabulary import type_uri


COMMON_WRITABLE = ("name", "description", "properties")


@dataclass
class Created:
    """What a kind's create, upload or collection-operation hook returns: the row's fields and its Job.

    job: the operation the Job runs (None: the resource is complete at once);
    action: the Job's action ("add", or the collection operation's name);
    discard: undoes what the hook did before the row existed (a staged upload),
    called when the row cannot be stored.
    """
    fields: dict
    job: Callable | None = None
    payload: dict = field(default_factory=dict)
    action: str = "add"
    discard: Callable | None = None


def check_body(type_name, body, accepted=None):
    """Coerce and validate a request body against a type's schema; return it."""
    if not isinstance(body, dict):
        raise errors.BadRequest("the request body must be a JSON object or an XML element")
    body = schemas.coerce(schemas.load(type_name), body)
    uri = body.pop("resourceURI", None)
    if uri is not None and uri not in [type_uri(t) for t in (accepted or (type_name,))]:
        raise errors.BadRequest(f"resourceURI {uri} does not match {type_uri(type_name)}")
    try:
        schemas.validate(type_name, schemas.strip_read_only(type_name, body))
    except schemas.SchemaError as exc:
        raise errors.BadRequest(str(exc)) from None
    return schemas.strip_read_only(type_name, body)


def check_references(ctx, type_name, body):
    """Refuse references to what the user may not read (404) or that name another type (400)."""
    for target, href in schemas.references(schemas.load(type_name), body):
        represent.resolve(ctx, href, target)


def writable(ctx, kind, row):
    if not represent.can_write(ctx.user, kind, row):
        raise errors.Forbidden(f"you may not change {kind.name} {row['id']}")


def insert(ctx, kind, body, parent=None):
    """Validate and store a new resource; return (row, Created) with its Job not yet run."""
    if kind.create_schema is None:
        raise errors.MethodNotAllowed(f"{kind.name} resources are created by the provider only", allowed=["GET"])
    if not represent.can_add(ctx.user, kind):
        raise errors.Forbidden(f"only administrators may add {kind.name} resources")
    if parent is not None:
        writable(ctx, registry.get(kind.parent), parent)
    body = check_body(kind.create_schema, body, accepted=(kind.create_schema, kind.name))
    check_references(ctx, kind.create_schema, body)
    body.pop("id", None)
    acl = body.pop("acl", None)
    common = {k: body[k] for k in COMMON_WRITABLE if k in body}
    created = kind.create(ctx, body, parent) if kind.create else Created({"data": body})
    for key in common:                      # columns of the row, not data (a hook may read them: a User's name)
        created.fields.get("data", {}).pop(key, None)
    if acl is not None:
        owner = None if kind.provider_only else ctx.owner          # configurations are the provider's
        created.fields.setdefault("data", {})["acl"] = sharing.checked(owner, acl)
    return store_created(ctx, kind, created, {"parent": parent and parent["id"], **common}), created


def store_created(ctx, kind, created, fields=None):
    """Store the row a hook described, owned by the requester (the provider's for configurations).

    Within the owner's quota (cimi/ops/usage.py): beyond it, a 403 and nothing stored.
    """
    owner = None if kind.provider_only else ctx.owner
    fields = {"owner": owner, **(fields or {}), **created.fields}
    try:
        with usage.admitted(ctx, kind.name, fields, created.payload):
            return store.insert(kind.name, fields)
    except BaseException:
        if created.discard:
            created.discard()
        raise


def remove(kind, row):
    """Delete a row and, recursively, its sub-collection items."""
    for child in registry.children(kind.name):
        for child_row in store.children(child.name, row["id"]):
            remove(child, child_row)
    store.delete(kind.name, row["id"])


def delete_backend_object(job, kind_name, method):
    """Remove the row's backend object (`backend.<method>(key)`), if it has one, then the row."""
    row = store.get(kind_name, job.payload["id"])
    if row["data"].get("_key"):
        getattr(job.backend, method)(row["data"]["_key"])
    store.delete(kind_name, row["id"])
