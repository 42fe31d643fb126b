"""Typed, indexed columns for the attributes collection queries filter and sort on.

The schemas say which (`"x-column": true`, schemas/__init__.py); each such
attribute of a kind gets a column of its type in the kind's table, named by
the snake-cased path (`cpuArch` -> cpu_arch, `targetResource/href` ->
target_resource_href), indexed by a migration. `data` stays the whole truth:
the store copies every column from it on each write, and the query compiler
(cimi/store/sql.py) reads the column instead of the JSON.

A value of the wrong type (a string where the schema says integer), an
integer beyond 64 bits or a dateTime that does not parse is stored as NULL,
so it compares false like an absent attribute.
"""
import dataclasses
import functools
import re

import peewee

import schemas
from cimi.query.filter import parse_datetime
from cimi.store.sql import utc_naive

_INT64 = (-2 ** 63, 2 ** 63 - 1)


@dataclasses.dataclass(frozen=True)
class Column:
    path: str       # the '/'-joined attribute path, as $filter and $orderby spell it
    type: str       # "string", "integer", "boolean" or "dateTime"

    @property
    def name(self):
        return column_name(self.path)

    def field(self):
        """The peewee field of this column (the migration that adds it spells the same SQL type)."""
        return {"string": peewee.TextField, "integer": peewee.BigIntegerField,
                "boolean": peewee.BooleanField, "dateTime": peewee.DateTimeField}[self.type](null=True)

    def value(self, data):
        """This column's value in a row's `data`, or None when absent or not of the column's type."""
        value = data
        for key in self.path.split("/"):
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        if self.type == "string":
            return value if isinstance(value, str) else None
        if self.type == "boolean":
            return value if isinstance(value, bool) else None
        if self.type == "integer":
            ok = isinstance(value, int) and not isinstance(value, bool) and _INT64[0] <= value <= _INT64[1]
            return value if ok else None
        try:
            return utc_naive(parse_datetime(value)) if isinstance(value, str) else None
        except ValueError:
            return None


def column_name(path):
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", path.replace("/", "_")).lower()


@functools.cache
def of(kind_name):
    """The typed columns of a kind (none for a kind without a schema)."""
    try:
        found = schemas.columns(kind_name)
    except KeyError:
        return ()
    return tuple(Column(path, type_) for path, type_ in found.items())


def values(kind_name, data):
    """{column name: value} of every typed column of a kind, from a row's `data`."""
    return {column.name: column.value(data) for column in of(kind_name)}
