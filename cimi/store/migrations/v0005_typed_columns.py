"""Typed, indexed columns for the attributes queries filter and sort on; jsonb on PostgreSQL.

The columns are those the schemas marked `"x-column": true` when this step
was written, listed here (table, column, type, JSON path in `data`); rows
already there get them filled from `data`. Indexes, for listings such as
`state='STARTED' and cpu>=2` ordered by `memory:desc` and paged:

- every column: `(col)`, and `(state, col)` on kinds with a state: narrow,
  so that counting `state='X' and cpu>=2` reads few pages (an index that
  also holds the tie-breaks was ten times slower to count on SQLite);
- the columns marked `"desc"` (listings sort on them largest or newest
  first) also `(col DESC, created, id)` and `(state, col DESC, created, id)`:
  the order of `$orderby=col:desc` with the store's tie-breaks, so that the
  page is read off the index instead of sorting every match.

PostgreSQL: `data` and `properties` become jsonb (the JSON text was parsed
on every row a query touched), text columns compare under the "C" collation
the query compiler uses, and step 2's jsonb expression indexes give way to
the columns. SQLite: step 2's covering index on JSON expressions goes too.
"""
import datetime
import json

import peewee

from cimi.store.migrations.v0001_initial import KINDS

COLUMNS = {   # table: ((column, type, path in data, listings sort on it largest first), ...)
    "address": (("ip", "string", "ip", False), ("network_href", "string", "network/href", False)),
    "disk": (("capacity", "integer", "capacity", True),),
    "exported_package": (("source_href", "string", "source/href", False), ("size", "integer", "size", True)),
    "job": (("target_resource_href", "string", "targetResource/href", False), ("action", "string", "action", False),
            ("return_code", "integer", "returnCode", False), ("progress", "integer", "progress", False),
            ("time_of_status_change", "dateTime", "timeOfStatusChange", True),
            ("parent_job_href", "string", "parentJob/href", False)),
    "machine": (("cpu", "integer", "cpu", True), ("memory", "integer", "memory", True),
                ("cpu_arch", "string", "cpuArch", False), ("cpu_speed", "integer", "cpuSpeed", False),
                ("host", "string", "host", False)),
    "machine_configuration": (("cpu", "integer", "cpu", True), ("memory", "integer", "memory", True),
                              ("cpu_arch", "string", "cpuArch", False), ("cpu_speed", "integer", "cpuSpeed", False)),
    "machine_image": (("type", "string", "type", False), ("related_image_href", "string", "relatedImage/href", False)),
    "machine_network_interface": (("network_href", "string", "network/href", False),
                                  ("mac_address", "string", "macAddress", False)),
    "machine_template": (("machine_config_href", "string", "machineConfig/href", False),
                         ("machine_image_href", "string", "machineImage/href", False)),
    "machine_volume": (("volume_href", "string", "volume/href", False),),
    "network": (("network_type", "string", "networkType", False), ("mtu", "integer", "mtu", False)),
    "network_configuration": (("network_type", "string", "networkType", False), ("mtu", "integer", "mtu", False)),
    "network_port": (("network_href", "string", "network/href", False), ("port_type", "string", "portType", False)),
    "volume": (("type", "string", "type", False), ("capacity", "integer", "capacity", True),
               ("bootable", "boolean", "bootable", False), ("attached_to_href", "string", "attachedTo/href", False)),
    "volume_configuration": (("type", "string", "type", False), ("format", "string", "format", False),
                             ("capacity", "integer", "capacity", True)),
    "volume_image": (("bootable", "boolean", "bootable", False),),
}
# Tables whose rows have a state: their indexes are also led by it.
WITH_STATE = {"job", "machine", "volume", "network", "machine_image", "network_port",
              "machine_network_interface", "exported_package", "volume_image"}
_SQL_TYPES = {  # (SQLite, PostgreSQL), as peewee's TextField, BigIntegerField, BooleanField, DateTimeField
    "string": ("TEXT", 'TEXT COLLATE "C"'), "integer": ("INTEGER", "BIGINT"),
    "boolean": ("INTEGER", "BOOLEAN"), "dateTime": ("DATETIME", "TIMESTAMP"),
}
_BATCH = 1000


def _value(data, type_, path):
    value = data
    for key in path.split("/"):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    if type_ == "string":
        return value if isinstance(value, str) else None
    if type_ == "boolean":
        return value if isinstance(value, bool) else None
    if type_ == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool) and -2 ** 63 <= value < 2 ** 63
        return value if ok else None
    try:
        instant = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None
    if instant.tzinfo is not None:
        instant = instant.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return instant


def _fill(database, table, columns):
    """Copy each row's column values out of its `data`."""
    p = database.param
    assignments = ", ".join(f'"{name}" = {p}' for name, _, _ in columns)
    rows = database.execute_sql(f'SELECT id, data FROM "{table}"').fetchall()
    for start in range(0, len(rows), _BATCH):
        params = []
        for row_id, data in rows[start:start + _BATCH]:
            data = json.loads(data) if isinstance(data, str) else (data or {})
            params.append([_value(data, type_, path) for _, type_, path in columns] + [row_id])
        database.cursor().executemany(f'UPDATE "{table}" SET {assignments} WHERE id = {p}', params)


def apply(database):
    postgres = isinstance(database, peewee.PostgresqlDatabase)
    if postgres:
        database.execute_sql('DROP INDEX IF EXISTS "machine_cpu_desc"')
        database.execute_sql('DROP INDEX IF EXISTS "machine_memory_desc"')
        for table in (*KINDS, "job", "exported_package"):
            for column in ("data", "properties"):
                database.execute_sql(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" DROP DEFAULT, '
                                     f'ALTER COLUMN "{column}" TYPE jsonb USING "{column}"::jsonb, '
                                     f"ALTER COLUMN \"{column}\" SET DEFAULT '{{}}'::jsonb")
    else:
        database.execute_sql('DROP INDEX IF EXISTS "machine_state_sizes"')
    state = 'state COLLATE "C"' if postgres else "state"
    descending = "DESC NULLS LAST" if postgres else "DESC"     # SQLite puts NULL last in DESC already
    for table, columns in COLUMNS.items():
        leads = [("", ""), ("state_", f"{state}, ")] if table in WITH_STATE else [("", "")]
        for name, type_, _, desc in columns:
            database.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {_SQL_TYPES[type_][postgres]}')
            for prefix, lead in leads:
                database.execute_sql(f'CREATE INDEX "{table}_{prefix}{name}" ON "{table}" ({lead}"{name}")')
                if desc:
                    database.execute_sql(f'CREATE INDEX "{table}_{prefix}{name}_desc" ON "{table}" '
                                         f'({lead}"{name}" {descending}, created, id)')
        _fill(database, table, [c[:3] for c in columns])
