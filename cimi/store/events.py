"""Events (DSP0263 5.17.13), written by the store in the transaction of the change they record.

A write that changes a row's state (an insert with a state, an update to
another state, a delete) appends a `state` Event (or a `model` one for a
delete) to two EventLogs: the row's own (its id is the row's id, so that a
Machine's `eventLog` href needs no lookup) and its owner's (`user_log`).
Rows of the provider (no owner) and what only admins may read (failed
sign-ins, admin actions) go to the provider's log, owned by PROVIDER, a name
no user can have (user names have no ':'), so that only admins read it.

Nothing else keeps usage: meters are derived from these Events alone.
"""
import contextvars
import datetime
import hashlib
import json
import time
import uuid

import peewee

from cimi.store import columns, db
from cimi.vocabulary import PREFIX

EVENT_BASE = PREFIX + "/event/"           # DSP0263 table 55, under the CIMI version we speak
STATE, ALARM, MODEL, ACCESS = (EVENT_BASE + t for t in ("state", "alarm", "model", "access"))
SEVERITIES = ("low", "medium", "high", "critical")
PROVIDER = ":provider"                    # owner of the provider's log (admins only)
PROVIDER_LOG = "provider"
LOG_KIND, EVENT_KIND = "EventLog", "Event"

_actor = contextvars.ContextVar("cimi_actor", default=None)
_declared = {}                            # kind name -> (type URI, href(row) -> relative href, measures)


def declare(kind_name, type_uri, href, measures=None):
    """Have the store record the state changes of a kind; href(row) is its href relative to baseURI.

    measures: {name in the Event: key in the row's data} of the sizes meters
    multiply time by (cpu, memory, capacity, bytes), copied into each state Event.
    """
    _declared[kind_name] = (type_uri, href, dict(measures or {}))


def declares(kind_name):
    return kind_name in _declared


def set_actor(name):
    """Name who causes the writes of this thread from now on (a request's user, a Job's owner)."""
    _actor.set(name or None)


def actor():
    return _actor.get()


def user_log(name):
    """The id of a user's EventLog (derived from the name, which may hold any printable character)."""
    return PROVIDER_LOG if name in (None, PROVIDER) else "user-" + hashlib.sha256(name.encode()).hexdigest()[:32]


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _event_id():
    """A new Event's id: its time first, so that a log's Events page in the order they happened.

    NOTE: collections page by (created, id); `created` has whole seconds.
    """
    return f"{time.time_ns():016x}{uuid.uuid4().hex[:16]}"


def _ensure_log(log_id, owner, name, target_href=None, description=None):
    scope = "resource" if target_href else "provider" if log_id == PROVIDER_LOG else "user"
    data = {"persistence": "yearly", "scope": scope}
    if target_href:
        data["targetResource"] = {"href": target_href}
    model = db.model_for(LOG_KIND)
    now = _now()
    model.insert(id=log_id, owner=owner, name=name, description=description, created=now, updated=now,
                 data=json.dumps(data), **columns.values(LOG_KIND, data)).on_conflict_ignore().execute()


def _owner(name):
    """Who may read the Events of a row owned by `name` (the provider's rows: admins only)."""
    return name if name not in (None, "") else PROVIDER


def _user_log(name):
    """(id, owner, name, target href, description) of a user's log, or the provider's for None."""
    owner = _owner(name)
    if owner == PROVIDER:
        return PROVIDER_LOG, PROVIDER, "provider", None, "failed sign-ins, admin actions, the provider's resources"
    return user_log(owner), owner, f"user:{owner}", None, f"events of user {owner}"


def append(event_type, content, logs, severity="low", outcome="Status"):
    """Append one Event to each log, (id, owner, name, target href, description), creating the logs it lacks.

    Call it inside the transaction of the change it records.
    """
    now = _now()
    data = {"timestamp": _iso(now), "type": event_type, "content": content, "outcome": outcome,
            "severity": severity}
    model = db.model_for(EVENT_KIND)
    for log_id, owner, name, target_href, description in logs:
        _ensure_log(log_id, owner, name, target_href, description)
        model.insert(id=_event_id(), owner=owner, parent=log_id, created=now, updated=now,
                     data=json.dumps(data), **columns.values(EVENT_KIND, data)).execute()


SEVERITIES = ("low", "medium", "high", "critical")


def summary(log_id):
    """How many Events of each severity a log holds now (DSP0263 EventLog `summary`), off its severity index."""
    model = db.model_for(EVENT_KIND)
    counted = dict(model.select(model.severity, peewee.fn.COUNT(model.id)).where(model.parent == log_id)
                   .group_by(model.severity).tuples())
    return {severity: counted.get(severity, 0) for severity in SEVERITIES}


def record(event_type, content, owners=(None,), severity="low", outcome="Success"):
    """Record an Event no row change carries (a failed sign-in, an admin action) in the logs of `owners`.

    owners: user names, None for the provider's log. Inside a caller's
    transaction (store.transaction()) it is kept or lost with the caller's writes.
    """
    if actor() and "initiator" not in content:
        content = {**content, "initiator": actor()}
    with db.database.atomic():
        append(event_type, {k: v for k, v in content.items() if v is not None},
               [_user_log(owner) for owner in dict.fromkeys(owners)], severity, outcome)


def _logs(kind_name, row):
    """The logs a row's Events go to: its own and its owner's."""
    owner = _owner(row.get("owner"))
    return [(row["id"], owner, row.get("name"), _declared[kind_name][1](row), None), _user_log(row.get("owner"))]


def _content(kind_name, row, **more):
    type_uri, href, _ = _declared[kind_name]
    content = {"resName": row.get("name"), "resource": {"href": href(row)}, "resType": type_uri, **more}
    if _actor.get():
        content["initiator"] = _actor.get()
    return {k: v for k, v in content.items() if v is not None}


def changed(kind_name, before, after):
    """Record a row's state change (before None: just inserted); nothing when the state stayed."""
    if not declares(kind_name) or after.get("state") is None:
        return
    previous = before.get("state") if before else None
    if before is not None and previous == after["state"]:
        return
    failed = after["state"] in ("ERROR", "FAILED")
    measures = {name: after["data"][key] for name, key in _declared[kind_name][2].items()
                if isinstance(after.get("data", {}).get(key), int)}
    append(STATE, _content(kind_name, after, state=after["state"], previous=previous, measures=measures or None),
           _logs(kind_name, after),
           severity="medium" if failed else "low", outcome="Failure" if failed else "Status")


def deleted(kind_name, row):
    """Record a row's deletion (a `model` Event whose `previous` is the state it had)."""
    if not declares(kind_name) or row.get("state") is None:
        return
    append(MODEL, _content(kind_name, row, change="delete", previous=row.get("state")), _logs(kind_name, row))


def history(log_id, until):
    """The data of a log's state and deletion Events up to an instant, in the order they happened."""
    model = db.model_for(EVENT_KIND)
    query = (model.select(model.data).where((model.parent == log_id) & model.type.in_((STATE, MODEL))
                                             & (model.timestamp <= until)).order_by(model.created, model.id))
    return [json.loads(record.data) for record in query]
