"""Fixtures for the query tests: a store table on SQLite and PostgreSQL.

PostgreSQL comes from the session fixture in tests/postgres.py.
"""

import datetime
import json

import peewee
import pytest

from cimi.store.sql import compile_filters, make_resolver

from .dataset import COLUMNS, ITEMS, SCHEMA_TYPES

DATABASES = ["sqlite", "postgresql"]


class Resource(peewee.Model):
    """The shape every resource table of the store has."""

    id = peewee.CharField(primary_key=True)
    owner = peewee.CharField(null=True)
    name = peewee.CharField(null=True)
    description = peewee.CharField(null=True)
    created = peewee.DateTimeField()
    updated = peewee.DateTimeField()
    state = peewee.CharField(null=True)
    properties = peewee.TextField(default="{}")
    data = peewee.TextField(default="{}")

    class Meta:
        table_name = "machine"


def _row(item):
    """Split a plain resource dict into the store's columns."""
    data = {k: v for k, v in item.items() if k not in COLUMNS}
    return dict(id=item["id"], owner=item.get("owner"), name=item.get("name"),
                description=item.get("description"), created=item["created"],
                updated=item["updated"], state=item.get("state"),
                properties=json.dumps(item.get("properties", {})),
                data=json.dumps(data, default=_iso))


def _iso(value):
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    raise TypeError(value)


@pytest.fixture(scope="session", params=DATABASES)
def database(request):
    """An empty database of each kind with the resource table created."""
    if request.param == "sqlite":
        db = peewee.SqliteDatabase(":memory:")
    else:
        url = request.getfixturevalue("postgresql_url")
        from playhouse.db_url import connect
        db = connect(url)
    db.bind([Resource])
    db.connect(reuse_if_open=True)
    db.create_tables([Resource])
    yield db
    db.drop_tables([Resource])
    db.close()


class Machines:
    """The fixed dataset, loaded in one database, with query helpers."""

    model = Resource
    resolve = staticmethod(make_resolver(Resource, SCHEMA_TYPES, COLUMNS))

    def ids(self, *filters):
        """Ids matched by the given $filter texts (ANDed)."""
        where = compile_filters(filters, self.resolve)
        query = Resource.select(Resource.id)
        return {row.id for row in (query if where is None else query.where(where))}


@pytest.fixture
def machines(database):
    """The dataset in a fresh table of each database."""
    database.bind([Resource])
    Resource.delete().execute()
    Resource.insert_many([_row(item) for item in ITEMS]).execute()
    return Machines()
