"""Fixtures for the query tests: a store table on SQLite and PostgreSQL.

Each test runs on two shapes of the table: every attribute in the JSON
`data` (TEXT), and the store's shape since migration 5, where the scalar
attributes of the dataset also have typed columns (cimi/store/columns.py)
and, on PostgreSQL, `data` and `properties` are jsonb. The answers must be
the same. PostgreSQL comes from the session fixture in tests/postgres.py.
"""

import datetime
import json

import peewee
import pytest

from cimi.store.columns import Column
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


TYPED = [Column(path, type_) for path, type_ in SCHEMA_TYPES.items()
         if path not in COLUMNS and type_ in ("string", "integer", "boolean", "dateTime")]


# The same table with a typed column for each scalar attribute, as cimi.store.db.model_for makes them.
TypedResource = type("TypedResource", (Resource,), {
    "__module__": __name__, "Meta": type("Meta", (), {"table_name": "machine_typed"}),
    "typed_columns": {column.path: column.name for column in TYPED},
    **{column.name: column.field() for column in TYPED}})


SHAPES = {"json": Resource, "typed": TypedResource}


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
    models = list(SHAPES.values())
    db.bind(models)
    db.connect(reuse_if_open=True)
    db.create_tables(models)
    if request.param == "postgresql":
        for column in ("data", "properties"):
            db.execute_sql(f'ALTER TABLE machine_typed ALTER COLUMN {column} TYPE jsonb USING {column}::jsonb')
    yield db
    db.drop_tables(models)
    db.close()


class Machines:
    """The fixed dataset, loaded in one database and table shape, with query helpers."""

    def __init__(self, model):
        self.model = model
        self.resolve = make_resolver(model, SCHEMA_TYPES, COLUMNS)

    def ids(self, *filters):
        """Ids matched by the given $filter texts (ANDed)."""
        where = compile_filters(filters, self.resolve)
        query = self.model.select(self.model.id)
        return {row.id for row in (query if where is None else query.where(where))}


@pytest.fixture(params=list(SHAPES))
def machines(database, request):
    """The dataset in a fresh table of each database and shape."""
    model = SHAPES[request.param]
    database.bind([model])
    model.delete().execute()
    rows = [_row(item) for item in ITEMS]
    if model is TypedResource:
        for row in rows:
            row.update({column.name: column.value(json.loads(row["data"])) for column in TYPED})
    model.insert_many(rows).execute()
    return Machines(model)
