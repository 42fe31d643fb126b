"""Links: every reference from one row to another, kept in one indexed table.

Each kind declares where its rows refer to others (`declare`), by plain data:
an internal key holding an id (Machine `_image`), or an attribute holding an
href (a MachineTemplate's `machineImage`, its NICs' `networkInterfaces/[]/network`).
`store.insert`, `update` and `delete` keep the table equal to what the rows
say, so that "who refers to X" (`referrers`) is one indexed query, not a
search through JSON text. Each link says what deleting its target does:
BLOCK refuses (409 naming the referrers), CASCADE deletes the referrer too,
KEEP is only information (a Job's target).
"""
from dataclasses import dataclass

from cimi.store import db

BLOCK, CASCADE, KEEP = "block", "cascade", "keep"


@dataclass(frozen=True)
class Link:
    """Where a kind's rows refer to another kind, and what deleting the target does.

    role: the path in `data`, "/"-separated, "[]" for the items of a list; the
    value there is an id, an {"href"} or a list of either. target: the kind
    referred to, or None when the value is a [kind name, id] pair (a Job's `_target`).
    """
    role: str
    target: str | None
    on_delete: str = BLOCK


@dataclass(frozen=True)
class Referrer:
    kind: str
    id: str
    role: str
    on_delete: str


_declared = {}                     # kind name -> {role: Link}


def declare(kind_name, links):
    """Add (or replace, by role) the links of a kind."""
    _declared.setdefault(kind_name, {}).update({link.role: link for link in links})


def declared(kind_name):
    return list(_declared.get(kind_name, {}).values())


def declares(kind_name):
    """Whether rows of the kind may refer to others (their writes keep links)."""
    return bool(_declared.get(kind_name))


def cascades_to(kind_name):
    """Whether deleting a row of the kind may delete others (a link to it cascades)."""
    return any(link.on_delete == CASCADE and link.target == kind_name
               for links in _declared.values() for link in links.values())


def _id(value):
    if isinstance(value, dict):
        value = value.get("href")
    return value.rstrip("/").rsplit("/", 1)[-1] if isinstance(value, str) and value else None


def _values(data, path):
    """The values found at a path (several through lists)."""
    found = [data]
    for step in path:
        if step == "[]":
            found = [item for value in found if isinstance(value, list) for item in value]
        else:
            found = [value[step] for value in found if isinstance(value, dict) and step in value]
    return found


def targets(kind_name, data):
    """The set of (role, target kind, target id) a row's data refers to."""
    out = set()
    for link in declared(kind_name):
        for value in _values(data or {}, link.role.split("/")):
            if link.target is None:
                if isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value):
                    out.add((link.role, value[0], value[1]))
                continue
            for item in value if isinstance(value, list) else [value]:
                target_id = _id(item)
                if target_id:
                    out.add((link.role, link.target, target_id))
    return out


def write(kind_name, row_id, data, new=False):
    """Make the links of a row those its data holds (no write when they are already; new: it has none yet)."""
    if kind_name not in _declared:
        return
    wanted = targets(kind_name, data)
    model = db.Link
    held = set() if new else _held(kind_name, row_id)
    if held == wanted:
        return
    mine = (model.source_kind == kind_name) & (model.source_id == row_id)
    for role, target_kind, target_id in held - wanted:
        model.delete().where(mine & (model.role == role) & (model.target_kind == target_kind)
                             & (model.target_id == target_id)).execute()
    rows = [{"source_kind": kind_name, "source_id": row_id, "role": role, "target_kind": target_kind,
             "target_id": target_id} for role, target_kind, target_id in sorted(wanted - held)]
    if rows:
        model.insert_many(rows).execute()


_held_sql = {}


def _held(kind_name, row_id):
    """The links a row has: (role, target kind, target id).

    NOTE: read on every update of a kind with links; its SQL is built once per
    dialect (peewee takes longer to build a SELECT than SQLite to run it).
    """
    key = type(db.database.obj)
    sql = _held_sql.get(key)
    if sql is None:
        model = db.Link
        sql = _held_sql[key] = model.select(model.role, model.target_kind, model.target_id).where(
            (model.source_kind == "") & (model.source_id == "")).sql()[0]
    return set(map(tuple, db.database.execute_sql(sql, (kind_name, row_id)).fetchall()))


def forget(kind_name, row_ids):
    """Remove the links of deleted rows."""
    if kind_name in _declared and row_ids:
        model = db.Link
        model.delete().where((model.source_kind == kind_name) & model.source_id.in_(list(row_ids))).execute()


def referrers(kind_name, row_id, source_kind=None, role=None):
    """Who refers to a row: Referrers, oldest link first, each (kind, id, role) once."""
    model = db.Link
    query = model.select().where((model.target_kind == kind_name) & (model.target_id == row_id))
    if source_kind is not None:
        query = query.where(model.source_kind == source_kind)
    if role is not None:
        query = query.where(model.role == role)
    out = {}
    for r in query.order_by(model.id):
        link = _declared.get(r.source_kind, {}).get(r.role)
        out.setdefault((r.source_kind, r.source_id, r.role),
                       Referrer(r.source_kind, r.source_id, r.role, link.on_delete if link else KEEP))
    return list(out.values())
