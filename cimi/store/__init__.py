"""Rows of every kind as plain dicts, with ownership and optimistic locking.

Rows look like {"id", "owner", "parent", "name", "description", "created",
"updated", "state", "version", "properties": {...}, "data": {...}}; `data`
holds the kind's other attributes; keys starting with "_" are internal
(backend keys) and never shown to clients.
"""
import json
import uuid

from cimi import errors
from cimi.store import db

COLUMNS = ("id", "owner", "parent", "name", "description", "created", "updated", "state", "version")


def new_id():
    return uuid.uuid4().hex


def to_row(record):
    row = {c: getattr(record, c) for c in COLUMNS}
    row["properties"] = json.loads(record.properties or "{}")
    row["data"] = json.loads(record.data or "{}")
    return row


def _columns(fields):
    out = {k: v for k, v in fields.items() if k in COLUMNS or k in ("worker", "lease_until", "handler")}
    if "properties" in fields:
        out["properties"] = json.dumps(fields["properties"])
    if "data" in fields:
        out["data"] = json.dumps(fields["data"])
    if "payload" in fields:
        out["payload"] = json.dumps(fields["payload"])
    return out


def insert(kind_name, fields):
    """Insert a row; return it as stored."""
    fields = {"id": new_id(), "created": db.utcnow(), **fields}
    fields.setdefault("updated", fields["created"])
    model = db.model_for(kind_name)
    model.insert(**_columns(fields)).execute()
    return get(kind_name, fields["id"])


_statements = {}


def _statement(kind_name, columns, with_parent):
    """Return (SQL, fields) of a lookup by id, built once per kind and SQL dialect.

    NOTE: peewee spends ~130 us building a SELECT, 20x what SQLite takes to run
    it; reads by id are the API's hot path (bench/api.py).
    """
    key = (kind_name, columns, with_parent, type(db.database.obj))     # the SQL depends on the dialect only
    statement = _statements.get(key)
    if statement is None:
        model = db.model_for(kind_name)
        query = model.select(*(getattr(model, c) for c in columns) if columns else ()).where(model.id == "")
        if with_parent:
            query = query.where(model.parent == "")
        statement = _statements[key] = (query.sql()[0], list(query.selected_columns))
    return statement


def _fetch(kind_name, row_id, parent, columns=None):
    sql, fields = _statement(kind_name, columns, parent is not None)
    params = [row_id] if parent is None else [row_id, parent]
    record = db.database.execute_sql(sql, params).fetchone()
    if record is None:
        raise errors.NotFound(f"no {kind_name} {row_id}")
    return _Record((f.name, f.python_value(v)) for f, v in zip(fields, record))


def get(kind_name, row_id, parent=None):
    """Return a row, or raise NotFound."""
    return to_row(_fetch(kind_name, row_id, parent))


_heads = {}


def head(kind_name, row_id, parent=None):
    """Return {"version", "owner"} of a row (what a cached document depends on), or raise NotFound.

    On a single-front-end database this is answered from memory while no write
    happened since it was read: the GET of one resource then runs no query.
    """
    generation = db.generation()
    key = (kind_name, row_id, parent)
    if generation is not None:
        cached = _heads.get(key)
        if cached is not None and cached[0] == generation and cached[2] is db.database.obj:
            return cached[1]
    found = _fetch(kind_name, row_id, parent, ("version", "owner"))
    if generation is not None:
        if len(_heads) > 65536:
            _heads.clear()
        _heads[key] = (generation, found, db.database.obj)
    return found


class _Record(dict):
    """A fetched row with attribute access, as `to_row` reads it."""
    __getattr__ = dict.__getitem__


def find(kind_name, row_id):
    """Return a row or None."""
    try:
        return get(kind_name, row_id)
    except errors.NotFound:
        return None


def update(kind_name, row_id, fields, version=None, touch=False):
    """Change a row; with `version`, only if nobody changed it meanwhile (else 412).

    touch: bump `updated` (explicit attribute updates do; state changes do not,
    DSP0263 5.7.1).
    """
    model = db.model_for(kind_name)
    values = _columns(fields)
    values.pop("id", None)
    if touch:
        values["updated"] = db.utcnow()
    values["version"] = model.version + 1
    query = model.update(**values).where(model.id == row_id)
    if version is not None:
        query = query.where(model.version == version)
    if query.execute() == 0:
        if find(kind_name, row_id) is None:
            raise errors.NotFound(f"no {kind_name} {row_id}")
        raise errors.PreconditionFailed(f"{kind_name} {row_id} was changed meanwhile; read it again")
    return get(kind_name, row_id)


def set_state(kind_name, row_id, state, **data_changes):
    """Set a row's state (and merge data keys) if it still exists; return it or None."""
    row = find(kind_name, row_id)
    if row is None:
        return None
    fields = {"state": state}
    if data_changes:
        fields["data"] = {**row["data"], **data_changes}
    return update(kind_name, row_id, fields)


def delete(kind_name, row_id):
    model = db.model_for(kind_name)
    model.delete().where(model.id == row_id).execute()


def delete_children(kind_name, parent_id):
    model = db.model_for(kind_name)
    model.delete().where(model.parent == parent_id).execute()


def visible(model, user, query):
    """Restrict a query to what a user may read: theirs and the provider's."""
    if user is None or user.admin:
        return query
    return query.where((model.owner == user.name) | (model.owner.is_null()))


def children(kind_name, parent_id, user=None):
    """Return the rows of a sub-collection (or rows recorded under a parent), oldest first."""
    model = db.model_for(kind_name)
    query = visible(model, user, model.select()).where(model.parent == parent_id)
    return [to_row(r) for r in query.order_by(model.created, model.id)]


def all_rows(kind_name):
    """Return every row of a kind, whoever owns it (for checks across users)."""
    return [to_row(r) for r in db.model_for(kind_name).select()]


def select(kind_name, user, query, parent=None):
    """Return (rows, count) of a collection query; count is before paging (DSP0263 4.1.6.2).

    query: a cimi.query CollectionQuery ($filter, $orderby, $first/$last).
    """
    model = db.model_for(kind_name)
    base = visible(model, user, model.select(model.id))
    if parent is not None:
        base = base.where(model.parent == parent)
    base = query.filtered(base)
    count = base.count()
    # NOTE: the page is chosen on ids alone, then its rows are read: sorting
    # thousands of matches then carries sort keys and ids, not whole rows, and
    # an index holding both answers it alone.
    ids = [r.id for r in query.paged(base, model.created, model.id)]
    if not ids:
        return [], count
    records = {r.id: r for r in model.select().where(model.id.in_(ids))}
    return [to_row(records[i]) for i in ids if i in records], count


def owned(kind_name, owner):
    """Return every row a user owns (owner None: the provider's), whatever its parent."""
    model = db.model_for(kind_name)
    where = model.owner.is_null() if owner is None else model.owner == owner
    return [to_row(r) for r in model.select().where(where)]


def owner_lock(owner):
    """A transaction in which no other request of the same owner, in any front end, runs its own.

    What counts an owner's rows and then adds one (a quota check) runs inside it.
    """
    return db.owner_lock(owner)
