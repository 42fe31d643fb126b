"""The store: peewee models for every resource kind, chosen by URL, migrated at start.

Each kind gets its own table of the same shape: the common attributes and
`state` as columns (filtered and sorted in SQL), `properties` and the rest of
the kind's attributes as JSON text in `data`. Jobs add the columns workers
need to claim them. SQLite (WAL) by default; PostgreSQL by URL.
"""
import datetime
import re
import threading

import peewee
from playhouse.db_url import connect

database = peewee.DatabaseProxy()
_models = {}
_models_lock = threading.Lock()


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)


class BaseModel(peewee.Model):
    class Meta:
        database = database


class Resource(BaseModel):
    """Columns every kind's table has."""
    id = peewee.CharField(primary_key=True, max_length=64)
    owner = peewee.CharField(null=True, index=True, max_length=128)   # None: the provider's, readable by all
    parent = peewee.CharField(null=True, index=True, max_length=64)   # owning resource of a sub-collection item
    name = peewee.CharField(null=True, max_length=1024)
    description = peewee.TextField(null=True)
    created = peewee.DateTimeField(default=utcnow, index=True)
    updated = peewee.DateTimeField(default=utcnow)
    state = peewee.CharField(null=True, index=True, max_length=32)
    version = peewee.IntegerField(default=1)                          # ETag and lost-update guard
    properties = peewee.TextField(default="{}")
    data = peewee.TextField(default="{}")


class JobColumns(Resource):
    """What workers need to claim a Job and notice a dead one."""
    worker = peewee.CharField(null=True, max_length=64)
    lease_until = peewee.DateTimeField(null=True, index=True)
    handler = peewee.CharField(null=True, max_length=64)
    payload = peewee.TextField(default="{}")


class User(BaseModel):
    name = peewee.CharField(primary_key=True, max_length=128)
    salt = peewee.BlobField()
    hash = peewee.BlobField()
    admin = peewee.BooleanField(default=False)
    created = peewee.DateTimeField(default=utcnow)


class SchemaVersion(BaseModel):
    version = peewee.IntegerField()


def table_name(kind_name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", kind_name).lower()


def model_for(kind_name):
    """Return the peewee model of a kind's table (one class per kind, made once)."""
    with _models_lock:
        model = _models.get(kind_name)
        if model is None:
            base = JobColumns if kind_name == "Job" else Resource
            meta = type("Meta", (), {"table_name": table_name(kind_name)})
            model = type(kind_name + "Row", (base,), {"Meta": meta, "__module__": __name__})
            _models[kind_name] = model
        return model


def open_database(url):
    """Connect the proxy to a database URL (sqlite:///path or postgresql://...)."""
    if url.startswith("sqlite"):
        db = connect(url, pragmas={"journal_mode": "wal", "busy_timeout": 10000, "synchronous": "normal"},
                     check_same_thread=False)
    else:
        db = connect(url)
    database.initialize(db)
    return db
