"""Rows to CIMI JSON-form documents: ids, operations, collections, $select, $expand.

The JSON form is the one model; cimi/xml.py maps it to XML.
"""
import schemas
from cimi import errors, registry, store
from cimi.query import ALL
from cimi.vocabulary import ADD, DELETE, EDIT, action_uri, type_uri


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


# --- URLs ----------------------------------------------------------------------

def collection_href(ctx, kind, parent_id=None):
    if kind.parent is None:
        return ctx.base + kind.collection
    parent_kind = registry.get(kind.parent)
    return f"{ctx.base}{parent_kind.collection}/{parent_id}/{kind.collection}"


def href(ctx, kind, row):
    return f"{collection_href(ctx, kind, row['parent'])}/{row['id']}"


def parse_href(ctx, uri):
    """Return (kind, id, parent_id) named by an href, absolute or relative, or raise 400."""
    text = (uri or "").strip()
    if text.startswith(ctx.base):
        path = text[len(ctx.base):]
    elif text.startswith("/cimi/"):
        path = text[len("/cimi/"):]
    elif ":" in text.split("/", 1)[0] or text.startswith("/"):
        raise errors.BadRequest(f"{uri!r} does not name a resource of this provider (base {ctx.base})")
    else:
        path = text                                    # relative to baseURI (DSP0263 5.5.10)
    parts = path.split("/")
    if len(parts) == 2:
        kind = registry.by_collection(parts[0])
        if kind:
            return kind, parts[1], None
    if len(parts) == 4:
        parent = registry.by_collection(parts[0])
        kind = parent and registry.by_collection(parts[2], parent.name)
        if kind:
            return kind, parts[3], parts[1]
    raise errors.BadRequest(f"{uri!r} does not name a resource of this provider")


def resolve(ctx, uri, expected=None):
    """Return the row an href names, if the user may read it; else 400/404."""
    kind, row_id, parent = parse_href(ctx, uri)
    if expected and kind.name not in ((expected,) if isinstance(expected, str) else expected):
        raise errors.BadRequest(f"{uri} is a {kind.name}, not a {expected}")
    row = store.get(kind.name, row_id, parent)
    if not can_read(ctx.user, kind.name, row):
        raise errors.NotFound(f"no {kind.name} {row_id}")
    return kind, row


# --- rights ----------------------------------------------------------------------

def can_read(user, kind_name, row):
    """Theirs, the provider's, or shared with them (the store decides, as for its queries)."""
    return store.readable(kind_name, user, row)


def can_write(user, kind, row):
    if user is None or user.admin:
        return True
    return not kind.provider_only and row["owner"] == user.name


def can_edit(user, kind, row):
    """Whether a user may edit a row: as they may write it, or as its owner where the kind allows (`own_edits`)."""
    return can_write(user, kind, row) or bool(kind.own_edits) and user is not None and row["owner"] == user.name


def can_add(user, kind):
    return kind.create_schema is not None and (user is None or user.admin or not kind.provider_only)


# --- documents -------------------------------------------------------------------

def operations(ctx, kind, row):
    """List exactly what this user may do to this row in its current state (DSP0263 4.2)."""
    if not can_write(ctx.user, kind, row):
        return [{"rel": EDIT, "href": href(ctx, kind, row)}] if kind.editable and can_edit(ctx.user, kind, row) else []
    self_href = href(ctx, kind, row)
    ops = []
    if kind.editable:
        ops.append({"rel": EDIT, "href": self_href})
    if (kind.deletable_states is None or row["state"] in kind.deletable_states) \
            and (kind.deletable is None or kind.deletable(row)):
        ops.append({"rel": DELETE, "href": self_href})
    for action in kind.actions.values():
        if action.allows(row):
            target = self_href + "/" + action.name if action.href == "self" \
                else ctx.base + action.href
            ops.append({"rel": action.rel or action_uri(action.name), "href": target})
    ops += [{"rel": view.rel, "href": f"{self_href}/{view.name}"} for view in kind.views.values()]
    return ops


def document(ctx, kind, row):
    """Return the JSON form of a row (the emptiness rule of DSP0263 5.5 applied)."""
    self_href = href(ctx, kind, row)
    doc = {"resourceURI": type_uri(kind.name), "id": self_href, "name": row["name"],
           "description": row["description"], "created": iso(row["created"]),
           "updated": iso(row["updated"]), "properties": row["properties"], "state": row["state"]}
    data = {**row["data"], **kind.shown(ctx, row)} if kind.shown else row["data"]
    for name, prop in kind.schema["properties"].items():
        if "x-collection" in prop:         # some (NIC addresses) are kept inline in the row
            doc[name] = {"href": f"{self_href}/{name}", **data.get(name, {})}
        elif prop.get("x-eventLog"):       # the store writes its Events into the EventLog of the same id
            doc[name] = {"href": f"{ctx.base}eventLogs/{row['id']}"}
        elif name in data and not prop.get("x-secret"):
            doc[name] = schemas.redact(prop, data[name])
    if "acl" in doc and not can_write(ctx.user, kind, row):   # whom else it is shared with: the owner's business
        doc["acl"] = {k: v for k, v in doc["acl"].items() if k == "owner"}
    doc["operations"] = operations(ctx, kind, row)
    return {k: v for k, v in doc.items() if v not in (None, "", [], {})}


def collection(ctx, kind, rows, count, parent_id=None):
    coll_href = collection_href(ctx, kind, parent_id)
    doc = {"resourceURI": type_uri(kind.name + "Collection"), "id": coll_href, "count": count}
    items = [document(ctx, kind, row) for row in rows]
    if items:
        doc[kind.items_key] = items
    ops = []
    if can_add(ctx.user, kind):
        ops.append({"rel": ADD, "href": coll_href})
    for name in kind.collection_actions:
        ops.append({"rel": action_uri(name), "href": f"{coll_href}/{name}"})
    if ops:
        doc["operations"] = ops
    return doc


def select(doc, names):
    """Trim a resource to the $select attributes; JSON keeps resourceURI (DSP0263 4.1.6.3)."""
    if not names or ALL in names:
        return doc
    return {k: v for k, v in doc.items() if k in names or k == "resourceURI"}


def expand(ctx, kind, doc, names):
    """Inline the referenced resources and collections named by $expand."""
    if not names:
        return doc
    every = ALL in names
    for name, prop in kind.schema["properties"].items():
        if name not in doc or not (every or name in names):
            continue
        if "x-collection" in prop:
            child = registry.by_collection(name, kind.name)
            if child is not None:
                parent_id = doc["id"].rstrip("/").rsplit("/", 1)[-1]
                rows = store.children(child.name, parent_id, ctx.user)
                inline = collection(ctx, child, rows, len(rows), parent_id)
                inline.pop("resourceURI")
                doc[name] = {"href": doc[name]["href"], **inline}
        elif ("x-ref" in prop or "x-refOrValue" in prop) and isinstance(doc[name], dict) and "href" in doc[name]:
            try:
                ref_kind, row = resolve(ctx, doc[name]["href"])
            except (errors.NotFound, errors.BadRequest):
                continue
            inline = document(ctx, ref_kind, row)
            inline.pop("resourceURI", None)
            doc[name] = {"href": doc[name]["href"], **inline}
    return doc
