"""EventLogs, Events and Meters (DSP0263 5.17): their tables, typed columns and indexes; a first Event for what exists.

Events are listed per log, newest or oldest first, and filtered on their
type, severity and timestamp: `(parent, created, id)` pages a log oldest
first (and reads a resource's history for meters), `(parent, timestamp DESC,
created, id)` newest first, `(parent, severity, timestamp DESC, created, id)`
the alarms of a log (`severity='medium' and timestamp>...`, newest first: 6 ms
instead of 38 ms at 100,000 Events in one log on SQLite).
Every Machine, Volume, Network, System and MachineImage already there gets
its log and one state Event (its state now, no `previous`), in its log and
its owner's, shaped as cimi/store/events.py writes them today: usage counts
from the upgrade on, and each `eventLog` href answers.
"""
import datetime
import hashlib
import json
import time
import uuid

import peewee

from cimi.store.migrations.v0001_initial import resource_table

PREFIX = "http://schemas.dmtf.org/cimi/1"
EXISTING = {  # table: (collection, type, {measure: key in data})
    "machine": ("machines", "Machine", {"cpu": "cpu", "memory": "memory"}),
    "volume": ("volumes", "Volume", {"capacity": "capacity"}),
    "network": ("networks", "Network", {}), "system": ("systems", "System", {}),
    "machine_image": ("machineImages", "MachineImage", {"bytes": "_bytes"}),
}
COLUMNS = {"meter_configuration": (), "meter_template": (),
           "meter": (("target_resource_href", "TEXT", 'TEXT COLLATE "C"'), ("aspect", "TEXT", 'TEXT COLLATE "C"')),
           "event_log": (("target_resource_href", "TEXT", 'TEXT COLLATE "C"'), ("scope", "TEXT", 'TEXT COLLATE "C"')),
           "event": (("timestamp", "DATETIME", "TIMESTAMP"), ("type", "TEXT", 'TEXT COLLATE "C"'),
                     ("severity", "TEXT", 'TEXT COLLATE "C"'))}


def apply(database):
    postgres = isinstance(database, peewee.PostgresqlDatabase)
    models = [resource_table(table) for table in COLUMNS]
    with database.bind_ctx(models):
        database.create_tables(models)
    for table, columns in COLUMNS.items():
        if postgres:
            for column in ("data", "properties"):
                database.execute_sql(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" DROP DEFAULT, '
                                     f'ALTER COLUMN "{column}" TYPE jsonb USING "{column}"::jsonb, '
                                     f"ALTER COLUMN \"{column}\" SET DEFAULT '{{}}'::jsonb")
        for name, sqlite_type, postgres_type in columns:
            sql_type = postgres_type if postgres else sqlite_type
            database.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {sql_type}')
            database.execute_sql(f'CREATE INDEX "{table}_{name}" ON "{table}" ("{name}")')
    descending = "DESC NULLS LAST" if postgres else "DESC"
    database.execute_sql('CREATE INDEX "event_parent_page" ON "event" (parent, created, id)')
    database.execute_sql(f'CREATE INDEX "event_parent_timestamp" ON "event" '
                         f'(parent, "timestamp" {descending}, created, id)')
    database.execute_sql(f'CREATE INDEX "event_parent_severity" ON "event" '
                         f'(parent, severity, "timestamp" {descending}, created, id)')
    database.execute_sql(f'CREATE INDEX "event_timestamp_desc" ON "event" ("timestamp" {descending}, created, id)')
    _first_events(database)


def _log(database, log_id, owner, name, target=None, description=None):
    p = database.param
    scope = "resource" if target else "provider" if log_id == "provider" else "user"
    data = {"persistence": "yearly", "scope": scope, **({"targetResource": {"href": target}} if target else {})}
    if database.execute_sql(f'SELECT 1 FROM event_log WHERE id = {p}', (log_id,)).fetchone() is None:
        database.execute_sql(f'INSERT INTO event_log (id, owner, name, description, created, updated, version, '
                             f'properties, data, target_resource_href, scope) VALUES ({", ".join([p] * 11)})',
                             (log_id, owner, name, description, _NOW, _NOW, 1, "{}", json.dumps(data), target, scope))


_NOW = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)


def _first_events(database):
    p = database.param
    for table, (collection, type_name, measures) in EXISTING.items():
        rows = database.execute_sql(f'SELECT id, owner, name, state, data FROM "{table}" '
                                    'WHERE state IS NOT NULL').fetchall()
        for row_id, owner, name, state, data in rows:
            data = json.loads(data) if isinstance(data, str) else (data or {})
            owner = owner or ":provider"
            href = f"{collection}/{row_id}"
            sizes = {k: data[key] for k, key in measures.items() if isinstance(data.get(key), int)}
            content = {"resName": name, "resource": {"href": href}, "resType": f"{PREFIX}/{type_name}",
                       "state": state, "measures": sizes or None, "detail": "its state when events began"}
            event = {"timestamp": _NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), "type": f"{PREFIX}/event/state",
                     "content": {k: v for k, v in content.items() if v is not None}, "outcome": "Status",
                     "severity": "low"}
            if owner == ":provider":
                owner_log = ("provider", "provider", None)
            else:
                owner_log = ("user-" + hashlib.sha256(owner.encode()).hexdigest()[:32], f"user:{owner}",
                             f"events of user {owner}")
            _log(database, row_id, owner, name, href)
            _log(database, owner_log[0], owner, owner_log[1], None, owner_log[2])
            for log_id in (row_id, owner_log[0]):
                database.execute_sql(
                    f'INSERT INTO event (id, owner, parent, created, updated, version, properties, data, '
                    f'"timestamp", type, severity) VALUES ({", ".join([p] * 11)})',
                    (f"{time.time_ns():016x}{uuid.uuid4().hex[:16]}", owner, log_id, _NOW, _NOW, 1, "{}",
                     json.dumps(event), _NOW, event["type"], "low"))
