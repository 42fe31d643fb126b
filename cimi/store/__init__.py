"""Rows of every kind as plain dicts, with ownership and optimistic locking.

Rows look like {"id", "owner", "parent", "name", "description", "created",
"updated", "state", "version", "properties": {...}, "data": {...}}; `data`
holds the kind's other attributes; keys starting with "_" are internal
(backend keys) and never shown to clients. Writes keep the links between
rows (cimi/store/links.py) and the grants of shared rows (cimi/store/sharing.py)
equal to what the rows' data say.
"""
import contextlib
import json
import uuid

from cimi import errors
from cimi.store import columns, db, events, links, sharing, sql
# The store's clock and connections, for the layers above (which never see peewee objects).
from cimi.store.db import display_url, exclusive, initialized, open_database, utcnow  # noqa: F401

COLUMNS = ("id", "owner", "parent", "name", "description", "created", "updated", "state", "version")


def new_id():
    return uuid.uuid4().hex


def to_row(record):
    row = {c: getattr(record, c) for c in COLUMNS}
    row["properties"] = json.loads(record.properties or "{}")
    row["data"] = json.loads(record.data or "{}")
    return row


def _columns(kind_name, fields):
    out = {k: v for k, v in fields.items() if k in COLUMNS or k in ("worker", "lease_until", "handler")}
    if "properties" in fields:
        out["properties"] = json.dumps(fields["properties"])
    if "data" in fields:
        out["data"] = json.dumps(fields["data"])
        out.update(columns.values(kind_name, fields["data"]))     # the typed copies queries use
    if "payload" in fields:
        out["payload"] = json.dumps(fields["payload"])
    return out


def insert(kind_name, fields):
    """Insert a row; return it as stored."""
    fields = {"id": new_id(), "created": db.utcnow(), **fields}
    fields.setdefault("updated", fields["created"])
    model = db.model_for(kind_name)
    evented = events.declares(kind_name) and fields.get("state") is not None
    with _linked(kind_name, evented):
        try:
            model.insert(**_columns(kind_name, fields)).execute()
        except db.IntegrityError:                   # a unique key taken meanwhile (an id, a User's name)
            raise errors.Conflict(f"a {kind_name} {fields.get('name') or fields['id']} exists already") from None
        links.write(kind_name, fields["id"], fields.get("data"), new=True)
        if sharing.shareable(kind_name):
            sharing.write(kind_name, fields["id"], fields.get("data"))
        row = get(kind_name, fields["id"])
        if kind_name == sharing.USERS:
            sharing.follow(row)
        if evented:
            events.changed(kind_name, None, row)
    return row


def _linked(kind_name, evented=False):
    """A transaction around a write of a kind with links, grants or Events (the row and they change together)."""
    if evented:
        return db.write_transaction()
    together = links.declares(kind_name) or sharing.shareable(kind_name) or kind_name == sharing.USERS
    return db.database.atomic() if together else contextlib.nullcontext()

def _locked(kind_name, row_id):
    """A row read for a change an Event records (its state before), locked until the transaction ends; or None."""
    model = db.model_for(kind_name)
    record = db.for_update(model.select().where(model.id == row_id)).first()
    return to_row(record) if record else None


set_actor = events.set_actor            # who causes this thread's writes: the initiator of their Events


def transaction():
    """A transaction: the writes inside it (and the Events they record) are kept all together or not at all."""
    return db.write_transaction()


def insert_many(kind_name, rows, batch=500):
    """Insert many complete rows (every column given, `id` included) in one transaction, fast.

    For loading a store in bulk (bench/query.py); rows are shaped as `insert` takes them.
    """
    model = db.model_for(kind_name)
    shaped = [_columns(kind_name, row) for row in rows]
    grants = [{"kind": kind_name, "row_id": row["id"], "principal": principal} for row in rows
              for principal in sorted(sharing.principals(row.get("data")))] if sharing.shareable(kind_name) else []
    with db.database.atomic():
        for start in range(0, len(shaped), batch):
            model.insert_many(shaped[start:start + batch]).execute()
        for start in range(0, len(grants), batch):
            db.Grant.insert_many(grants[start:start + batch]).execute()


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
    """Return {"id", "version", "owner"} of a row (what a cached document depends on), or raise NotFound.

    On a single-front-end database this is answered from memory while no write
    happened since it was read: the GET of one resource then runs no query.
    """
    generation = db.generation()
    key = (kind_name, row_id, parent)
    if generation is not None:
        cached = _heads.get(key)
        if cached is not None and cached[0] == generation and cached[2] is db.database.obj:
            return cached[1]
    found = _fetch(kind_name, row_id, parent, ("id", "version", "owner"))
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
    values = _columns(kind_name, fields)
    values.pop("id", None)
    if touch:
        values["updated"] = db.utcnow()
    values["version"] = model.version + 1
    query = model.update(**values).where(model.id == row_id)
    if version is not None:
        query = query.where(model.version == version)
    evented = events.declares(kind_name) and fields.get("state") is not None
    with _linked(kind_name, evented):
        before = _locked(kind_name, row_id) if evented else None
        if query.execute() == 0:
            if find(kind_name, row_id) is None:
                raise errors.NotFound(f"no {kind_name} {row_id}")
            raise errors.PreconditionFailed(f"{kind_name} {row_id} was changed meanwhile; read it again")
        if "data" in fields:
            links.write(kind_name, row_id, fields["data"])
            if sharing.shareable(kind_name):
                sharing.write(kind_name, row_id, fields["data"])
        row = get(kind_name, row_id)
        if kind_name == sharing.USERS and "data" in fields:
            sharing.follow(row)
        if before is not None:
            events.changed(kind_name, before, row)
    return row

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
    """Delete a row with its links, and the rows whose link to it cascades (links.CASCADE)."""
    model = db.model_for(kind_name)
    cascades = links.cascades_to(kind_name)
    evented = events.declares(kind_name)
    with db.write_transaction() if evented else db.database.atomic() if cascades else _linked(kind_name):
        row = _locked(kind_name, row_id) if evented else None
        if model.delete().where(model.id == row_id).execute() and row is not None:
            events.deleted(kind_name, row)
        links.forget(kind_name, [row_id])
        if sharing.shareable(kind_name):
            sharing.forget(kind_name, [row_id])
        for referrer in links.referrers(kind_name, row_id) if cascades else ():
            if referrer.on_delete == links.CASCADE:
                delete(referrer.kind, referrer.id)


def delete_children(kind_name, parent_id):
    model = db.model_for(kind_name)
    for record in list(model.select(model.id).where(model.parent == parent_id)):
        delete(kind_name, record.id)


def visible(model, user, query):
    """Restrict a query to what a user may read: theirs, the provider's, and what is shared with them."""
    if user is None or user.admin:
        return query
    mine = (model.owner == user.name) | (model.owner.is_null())
    if sharing.shareable(model.kind_name):
        mine |= model.id.in_(sharing.granted_ids(model.kind_name, user.name))
    return query.where(mine)


def readable(kind_name, user, row):
    """Whether a user may read a row (`visible` for one row: a full row or a `head`)."""
    if user is None or user.admin or row["owner"] in (None, user.name):
        return True
    return sharing.shareable(kind_name) and sharing.granted(kind_name, row["id"], user.name)


def revoke(principal):
    """Take a principal (a deleted user or group) out of every acl naming it; its grants go with it."""
    with db.database.atomic():
        for kind_name, row_id in sharing.holders(principal):
            row = get(kind_name, row_id)
            acl = row["data"].get("acl") or {}
            rules = [r for r in acl.get("rules", ()) if r.get("principal") != principal]
            update(kind_name, row_id, {"data": {**row["data"], "acl": {**acl, "rules": rules}}})


def children(kind_name, parent_id, user=None):
    """Return the rows of a sub-collection (or rows recorded under a parent), oldest first."""
    model = db.model_for(kind_name)
    query = visible(model, user, model.select()).where(model.parent == parent_id)
    return [to_row(r) for r in query.order_by(model.created, model.id)]


def all_rows(kind_name):
    """Return every row of a kind, whoever owns it (for checks across users)."""
    return [to_row(r) for r in db.model_for(kind_name).select()]


def _where(model, conditions):
    """Equality conditions on columns as one expression: a tuple or list means any of its values."""
    clauses = []
    for name, value in conditions.items():
        column = getattr(model, name)
        if isinstance(value, (tuple, list, set, frozenset)):
            clauses.append(column.in_(list(value)))
        elif value is None:
            clauses.append(column.is_null())
        else:
            clauses.append(column == value)
    return clauses


def rows(kind_name, created_before=None, **conditions):
    """Return the rows of a kind whose columns have the given values (read in full before any write).

    rows("Machine", state="STARTED"); rows("Job", state=("QUEUED", "RUNNING"));
    owner=None means the provider's.
    """
    model = db.model_for(kind_name)
    clauses = _where(model, conditions)
    if created_before is not None:
        clauses.append(model.created < created_before)
    query = model.select()
    if clauses:
        query = query.where(*clauses)
    return [to_row(r) for r in list(query)]


def exists(kind_name, **conditions):
    """Tell whether a row of the kind has the given column values."""
    model = db.model_for(kind_name)
    clauses = _where(model, conditions)
    return (model.select().where(*clauses) if clauses else model.select()).exists()


def first(kind_name, **conditions):
    """Return one row with the given column values, or None."""
    model = db.model_for(kind_name)
    record = model.select().where(*_where(model, conditions)).first()
    return to_row(record) if record else None


def referrers(kind_name, row_id, source_kind=None, role=None):
    """Who refers to a row (links.Referrer: kind, id, role, on_delete)."""
    return links.referrers(kind_name, row_id, source_kind, role)


def replace_all(kind_name, new_rows):
    """Make the rows of a kind exactly `new_rows` (field dicts, with their ids), in one transaction."""
    model = db.model_for(kind_name)
    with db.database.atomic():
        model.delete().execute()
        for fields in new_rows:
            insert(kind_name, fields)


def select(kind_name, user, query, parent=None):
    """Return (rows, count) of a collection query; count is before paging (DSP0263 4.1.6.2).

    query: a cimi.query CollectionQuery ($filter, $orderby, $first/$last).
    """
    db.refresh_statistics()
    model = db.model_for(kind_name)
    base = visible(model, user, model.select(model.id))
    if parent is not None:
        base = base.where(model.parent == parent)
    base = query.filtered(base)
    count = _count(base)
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
    Inside a transaction it lasts until that one ends: PostgreSQL's lock is the
    transaction's, and SQLite's IMMEDIATE transaction already excludes other writers.
    """
    return db.owner_lock(owner)


_counts = {}


def _count(query):
    """Count a query's matches; a count is reused while nothing was committed since it was made (so, exact).

    NOTE: counting is the one part of a listing that grows with the number of
    matches (a pass over the index: 2-14 ms at 50,000, bench/query.py);
    the page itself is read off an index. Consumers poll listings far more
    often than anything commits; a commit anywhere recounts.
    """
    token = db.commit_token()
    if token is None:
        return query.count()
    sql, params = query.sql()
    key = (sql, repr(params), id(db.database.obj))     # params may hold lists (JSON paths)
    cached = _counts.get(key)
    if cached is not None and cached[0] == token:
        return cached[1]
    count = query.count()
    if len(_counts) > 4096:
        _counts.clear()
    _counts[key] = (token, count)
    return count


def table_resolver(kind_name, schema_types, columns):
    """The $filter/$orderby resolver (cimi/store/sql.py `make_resolver`) of a resource kind's table."""
    return sql.make_resolver(db.model_for(kind_name), schema_types, columns)


def connect(database):
    """Make sure this thread has its connection to `database` (as `open_database` returned it)."""
    database.connect(reuse_if_open=True)
