"""The one pipeline every kind shares: add, read, query, edit, delete, actions.

Kinds supply only hooks (`Kind.create`, `Kind.delete`, `Action.handler`);
everything else (validation, ownership, states, Jobs, ETags) happens here.
"""
import functools

import schemas
from cimi import errors, jobs, registry, represent, store
from cimi.ops import events
from cimi.ops import sharing
from cimi.ops.resources import COMMON_WRITABLE, check_body, check_references, insert, remove, store_created
from cimi.ops.resources import writable as _writable
from cimi.store.links import BLOCK
from cimi.vocabulary import action_name, action_uri, type_uri


def _if_match(row, if_match):
    if if_match and not etag_matches(if_match, etag(row)):
        raise errors.PreconditionFailed("If-Match does not match the resource's current ETag")


def item_methods(kind):
    """The HTTP methods a kind's resources answer (the Allow header of a 405)."""
    return ["GET"] + (["PUT"] if kind.editable else []) + (["DELETE"] if kind.deletable_states != frozenset() else [])


def etag(row):
    return f'W/"{row["version"]}"'


def etag_matches(header, tag):
    """Whether an If-None-Match / If-Match list names this ETag (weak comparison, RFC 9110 13.1)."""
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or tag.removeprefix("W/") in tags


def admin_action(operation, target):
    """Record what an administrator does through the API as an Event, in the transaction of the change.

    target(ctx, kind, args, result) -> (href acted on, owner affected). Other
    users' requests are recorded by the state Events of what they change.
    """
    def wrap(fn):
        @functools.wraps(fn)
        def run(ctx, kind, *args, **kw):
            if ctx.user is None or not ctx.user.admin:
                return fn(ctx, kind, *args, **kw)
            with store.transaction():
                result = fn(ctx, kind, *args, **kw)
                href, owner = target(ctx, kind, args, result)
                name = args[1] if operation == "act" else operation or args[0].action
                events.record(ctx, f"{name} {kind.name}", resource=href, owner=owner)
            return result
        return run
    return wrap


def _made(ctx, kind, args, result):
    return result[1]["id"], ctx.owner


def _acted_on(ctx, kind, args, result):
    return represent.href(ctx, kind, args[0]), args[0]["owner"]


@admin_action("add", _made)
def add(ctx, kind, body, parent=None):
    """Create a resource; return (status, document, job row or None)."""
    row, created = insert(ctx, kind, body, parent)
    return _accepted(ctx, kind, row, created)


def receive(ctx, kind, media_type, upload):
    """Create a resource from raw bytes POSTed to its collection (a kind's `uploads` hook, a provider extension).

    The hook stages the bytes before any transaction begins: an upload takes minutes.
    """
    if not represent.can_add(ctx.user, kind):
        raise errors.Forbidden(f"you may not add {kind.name} resources")
    return _store_new(ctx, kind, kind.uploads[media_type](ctx, upload))


def perform(ctx, kind, name, body):
    """Run a collection-level operation (`import`) that creates a resource through a Job."""
    return _store_new(ctx, kind, kind.collection_actions[name](ctx, check_action(body, name)))


@admin_action(None, _made)          # the operation is the hook's: add, or import
def _store_new(ctx, kind, created):
    return _accepted(ctx, kind, store_created(ctx, kind, created), created)


def _accepted(ctx, kind, row, created):
    """Queue the Job of a stored new row, if it has one; return (201 or 202, its document, the Job)."""
    doc = represent.document(ctx, kind, row)        # as created: the Job may change it at once
    job = None
    if created.job:
        job = jobs.submit(ctx, jobs.JobSpec(
            registry.job_name(created.job), represent.collection_href(ctx, kind, row["parent"]), created.action,
            {**created.payload, "id": row["id"]}, [doc["id"]], (kind.name, row["id"])))
    return (202 if job else 201), doc, job


@admin_action("edit", _acted_on)
def edit(ctx, kind, row, body, selected=None, if_match=None):
    """Replace the consumer-writable attributes (all, or those in $select)."""
    if not kind.editable:
        raise errors.MethodNotAllowed(f"{kind.name} resources cannot be edited", allowed=item_methods(kind))
    owner_only = not represent.can_write(ctx.user, kind, row)      # an owner editing what the kind lets them
    if owner_only and not represent.can_edit(ctx.user, kind, row):
        _writable(ctx, kind, row)
    _if_match(row, if_match)
    if not isinstance(body, dict):
        raise errors.BadRequest("the request body must be a JSON object or an XML element")
    body = schemas.strip_read_only(kind.name, schemas.coerce(kind.schema, body), edit=True)
    uri = body.pop("resourceURI", None)
    if uri is not None and uri != type_uri(kind.name):
        raise errors.BadRequest(f"resourceURI {uri} does not match {type_uri(kind.name)}")
    body.pop("id", None)
    writable = [n for n, p in kind.schema["properties"].items()
                if not (p.get("readOnly") or p.get("x-createOnly")) and n != "id"]
    names = [n for n in (selected or writable) if n in writable]
    if owner_only and not set(names) <= set(kind.own_edits):
        raise errors.Forbidden(f"you may change only {', '.join(kind.own_edits)} of {kind.name} {row['id']}: "
                               f"PUT with $select={','.join(kind.own_edits)}")
    if selected:
        extra = sorted(set(body) - set(names))
        if extra:
            raise errors.BadRequest(f"attributes not listed in $select: {', '.join(extra)} (DSP0263 4.2.1.3.1)")
    current = {**row["data"], "name": row["name"], "description": row["description"],
               "properties": row["properties"]}
    merged = {k: v for k, v in current.items() if k in writable and k not in names and v is not None}
    merged.update({k: v for k, v in body.items() if k in names})
    unknown = sorted(set(body) - set(writable))
    if unknown:
        raise errors.BadRequest(f"unknown attributes: {', '.join(unknown)} (DSP0263 5.3)")
    try:
        schemas.validate(kind.name, merged)
    except schemas.SchemaError as exc:
        raise errors.BadRequest(str(exc)) from None
    check_references(ctx, kind.name, merged)
    if merged.get("acl") is not None:
        merged["acl"] = sharing.checked(row["owner"], merged["acl"])
    if kind.edited:
        merged = kind.edited(ctx, row, merged)
    data = {k: v for k, v in row["data"].items() if k not in writable}
    data.update({k: v for k, v in merged.items() if k not in COMMON_WRITABLE})
    updated = store.update(kind.name, row["id"], {
        "name": merged.get("name"), "description": merged.get("description"),
        "properties": merged.get("properties", {}), "data": data}, version=row["version"], touch=True)
    return represent.document(ctx, kind, updated), updated


@admin_action("delete", _acted_on)
def delete(ctx, kind, row, if_match=None):
    """Delete a resource now, or through a Job; return (status, job row or None)."""
    _writable(ctx, kind, row)
    _if_match(row, if_match)
    if kind.deletable_states is not None and row["state"] not in kind.deletable_states:
        raise errors.Conflict(f"{kind.name} {row['id']} cannot be deleted while {row['state']}")
    refuse_if_referenced(ctx, kind, row)
    if row["state"] == "CREATING" and "CREATING" in (kind.deletable_states or ()):
        job = jobs.cancel_creation(kind.name, row["id"])     # its handler undoes what it made
        if job is not None:
            try:
                store.set_state(kind.name, row["id"], "DELETING")
            except errors.NotFound:                          # already undone
                pass
            return 202, job
        row = store.get(kind.name, row["id"])               # created meanwhile: delete it as usual
    operation = kind.delete(ctx, row) if kind.delete else None
    if operation is None:
        remove(kind, row)
        return 200, None
    store.update(kind.name, row["id"], {"state": "DELETING"}, version=row["version"])
    job = jobs.submit(ctx, jobs.JobSpec(registry.job_name(operation), represent.href(ctx, kind, row), "delete",
                                        {"id": row["id"]}, target=(kind.name, row["id"])))
    return 202, job


def refuse_if_referenced(ctx, kind, row):
    """Refuse (409) to delete what others still refer to through a blocking link, naming them."""
    found = dict.fromkeys((r.kind, r.id) for r in store.referrers(kind.name, row["id"]) if r.on_delete == BLOCK)
    names, others = [], 0
    for kind_name, row_id in found:
        referrer = store.find(kind_name, row_id)
        if referrer is None:
            continue
        if not store.readable(kind_name, ctx.user, referrer):       # a share's reader: named to no one else
            others += 1
            continue
        named = f" ({referrer['name']})" if referrer["name"] else ""
        names.append(f"{kind_name} {represent.href(ctx, registry.get(kind_name), referrer)}{named}")
    if others:
        names.append(f"{others} resource{'s' if others > 1 else ''} of other users")
    if names:
        raise errors.Conflict(f"{kind.name} {row['id']} is still used by {'; '.join(names)}: "
                              "delete them or change their references first")


def check_action(body, name):
    """Validate an Action body POSTed to the href of operation `name`; return it.

    The operation URI decides what is done (DSP0263 4.2.1.5); a body naming another
    operation is a client's mistake, told which operation the href means.
    """
    params = check_body("Action", body or {"action": name})
    asked = (params.get("action") or "").strip()
    if asked and action_name(asked) != name:
        raise errors.BadRequest(f"this href performs {action_uri(name)} ({name}), but the body asks for {asked}; "
                                "POST to the href that operation lists instead")
    return params


@admin_action("act", _acted_on)
def act(ctx, kind, row, name, body, if_match=None):
    """Run an action on a resource through a Job; return the job row (None if done at once)."""
    action = kind.actions.get(name)
    if action is None or action.href != "self":
        raise errors.NotFound(f"{kind.name} has no operation {name}")
    _writable(ctx, kind, row)
    _if_match(row, if_match)
    params = check_action(body, name)
    if not action.allows(row):
        raise errors.Conflict(f"{name} is not allowed while {kind.name} is {row['state']}")
    if action.check:
        action.check(ctx, row, params)
    if action.immediate:
        action.immediate(ctx, row, params)
        return None
    if action.transient:
        store.update(kind.name, row["id"], {"state": action.transient}, version=row["version"])
    return jobs.submit(ctx, jobs.JobSpec(registry.job_name(action.handler), represent.href(ctx, kind, row), name,
                                         {"id": row["id"], "params": params, "from": row["state"]},
                                         target=(kind.name, row["id"]), rel=action.rel))
