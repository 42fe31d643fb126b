"""The store: peewee models for every resource kind, chosen by URL, migrated at start.

Each kind gets its own table of the same shape: the common attributes and
`state` as columns (filtered and sorted in SQL), `properties` and the rest of
the kind's attributes as JSON in `data` (TEXT on SQLite, jsonb on
PostgreSQL), plus a typed column for each attribute its schema marks
`x-column` (cimi/store/columns.py). Jobs add the columns workers need to
claim them. SQLite (WAL) by default; PostgreSQL by URL.
"""
import contextlib
import datetime
import hashlib
import logging
import os
import re
import threading

import peewee
import psycopg2.extras
from urllib.parse import urlparse

from playhouse.db_url import connect, parseresult_to_dict

from cimi.store import columns

database = peewee.DatabaseProxy()
IntegrityError = peewee.IntegrityError      # a unique key taken: the store answers Conflict
# APPSEC: peewee logs every statement with its parameters at DEBUG, and those carry
# what users store (Credential passwords): never let them reach the log.
logging.getLogger("peewee").setLevel(logging.INFO)
_models = {}
_models_lock = threading.Lock()
_START_LOCK = 0x6473635f737461   # pg_advisory_xact_lock key of db.exclusive ("dsc_sta")


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)


class JSONText(peewee.TextField):
    """JSON read and written as text: TEXT on SQLite, jsonb on PostgreSQL (see `PostgresqlDatabase`)."""

    def contains(self, text):
        # NOTE: LIKE takes text; PostgreSQL's jsonb prints itself with the same
        # separators as json.dumps (", " and ": "), so a key-value pair matches alike.
        return peewee.Cast(self, "text").contains(text)


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
    properties = JSONText(default="{}")
    data = JSONText(default="{}")


class JobColumns(Resource):
    """What workers need to claim a Job and notice a dead one."""
    worker = peewee.CharField(null=True, max_length=64)
    lease_until = peewee.DateTimeField(null=True, index=True)
    handler = peewee.CharField(null=True, max_length=64)
    payload = peewee.TextField(default="{}")


class Setting(BaseModel):
    """Facts about this installation (its identity)."""
    key = peewee.CharField(primary_key=True, max_length=64)
    value = peewee.TextField()


class Link(BaseModel):
    """One reference from a row to another (cimi/store/links.py); made by migration 6."""
    source_kind = peewee.CharField(max_length=64)
    source_id = peewee.CharField(max_length=64)
    role = peewee.CharField(max_length=255)
    target_kind = peewee.CharField(max_length=64)
    target_id = peewee.CharField(max_length=64)

    class Meta:
        table_name = "link"


class Grant(BaseModel):
    """One principal's read right on a shared row (cimi/store/sharing.py); made by migration 7."""
    kind = peewee.CharField(max_length=64)
    row_id = peewee.CharField(max_length=64)
    principal = peewee.CharField(max_length=160)          # user:NAME, group:NAME or everyone

    class Meta:
        table_name = "acl_grant"
        primary_key = peewee.CompositeKey("kind", "principal", "row_id")


class Membership(BaseModel):
    """A user's membership of a group (group:NAME), which grants to the group reach; made by migration 7."""
    principal = peewee.CharField(max_length=160)
    user_name = peewee.CharField(max_length=128)

    class Meta:
        table_name = "group_member"
        primary_key = peewee.CompositeKey("principal", "user_name")


def table_name(kind_name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", kind_name).lower()


def model_for(kind_name):
    """Return the peewee model of a kind's table (one class per kind, made once)."""
    with _models_lock:
        model = _models.get(kind_name)
        if model is None:
            base = JobColumns if kind_name == "Job" else Resource
            meta = type("Meta", (), {"table_name": table_name(kind_name)})
            typed = {column.name: column.field() for column in columns.of(kind_name)}
            model = type(kind_name + "Row", (base,), {
                "Meta": meta, "__module__": __name__, "kind_name": kind_name, **typed,
                "typed_columns": {column.path: column.name for column in columns.of(kind_name)}})   # for sql.make_resolver
            _models[kind_name] = model
        return model


class CountingSqliteDatabase(peewee.SqliteDatabase):
    """SQLite that counts its writes, so that a read may trust what it cached.

    NOTE: SQLite serves one front end (several share PostgreSQL), so every
    write to its file passes through this object. `generation` changes before
    and after each statement that is not a SELECT, and at each commit: a value
    read before a query is current only while `generation` still has it.
    """
    generation = 0
    analyzed = 0            # the generation at the last refresh of the planner's statistics
    statistics = 0          # how many refreshes so far; each connection reloads them when it moves
    ANALYZE_EVERY = 2000    # writes

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._loaded = threading.local()

    def refresh_statistics(self):
        """Refresh SQLite's planner statistics once enough was written, and have every connection use them.

        NOTE: without them SQLite sorts every match of `state='X' and cpu>=2`
        rather than read the page off the (state, memory DESC, ...) index.
        `PRAGMA optimize` analyzes the tables that changed a lot, sampled
        (`analysis_limit`: milliseconds at 100,000 rows); the connections of
        the other threads keep what they loaded until `ANALYZE sqlite_master`.
        PostgreSQL's autovacuum does all this there.
        """
        if self.generation - self.analyzed >= self.ANALYZE_EVERY:
            self.analyzed = self.generation
            self.execute_sql("PRAGMA optimize")
            self.statistics += 1
        if getattr(self._loaded, "statistics", 0) != self.statistics:
            self._loaded.statistics = self.statistics
            self.execute_sql("ANALYZE sqlite_master")

    def _execute_cursor(self, sql, params, **options):
        if sql.lstrip()[:6].upper() == "SELECT":
            return super()._execute_cursor(sql, params, **options)
        self.generation += 1
        try:
            return super()._execute_cursor(sql, params, **options)
        finally:
            self.generation += 1

    def commit(self):
        try:
            return super().commit()
        finally:
            self.generation += 1


class PostgresqlDatabase(peewee.PostgresqlDatabase):
    """PostgreSQL whose jsonb columns read back as their JSON text, as SQLite's TEXT does.

    NOTE: psycopg2 would parse jsonb into dicts; the store parses `data`
    itself (`to_row`), once, and other readers expect text.
    """

    def _connect(self):
        conn = super()._connect()
        psycopg2.extras.register_default_jsonb(conn, loads=str)
        return conn


def open_database(url):
    """Connect the proxy to a database URL (sqlite:///path or postgresql://...)."""
    if url.startswith("sqlite"):
        options = parseresult_to_dict(urlparse(url))
        db = CountingSqliteDatabase(options.pop("database"), check_same_thread=False, pragmas={
            "journal_mode": "wal", "busy_timeout": 10000, "synchronous": "normal",
            "cache_size": -65536, "mmap_size": 268435456,                  # 64 MiB cache, 256 MiB mapped
            "analysis_limit": 1000}, **options)
    else:
        db = PostgresqlDatabase(**parseresult_to_dict(urlparse(url)))
    database.initialize(db)
    return db


@contextlib.contextmanager
def exclusive(db):
    """A transaction no other front end on the same PostgreSQL runs at the same time.

    For what every server does once at start on a database perhaps still empty
    (its schema, its seed): two starting together would both create a table
    (PostgreSQL refuses the second) or both seed. SQLite serves one front end.
    """
    with db.atomic():
        if isinstance(db, peewee.PostgresqlDatabase):
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_START_LOCK,))
        yield


_owner_locks = {}


@contextlib.contextmanager
def owner_lock(owner):
    """A transaction serialised per owner: pg_advisory_xact_lock across front ends on PostgreSQL.

    SQLite serves one process: a lock per owner there, and BEGIN IMMEDIATE so
    that the transaction holds the write lock from its first read.
    """
    db = database.obj
    if isinstance(db, peewee.PostgresqlDatabase):
        with db.atomic():
            key = int.from_bytes(hashlib.sha256(f"owner:{owner}".encode()).digest()[:8], "big", signed=True)
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (key,))
            yield
        return
    with _models_lock:
        lock = _owner_locks.setdefault(owner, threading.RLock())
    with lock, db.atomic(lock_type="IMMEDIATE"):
        yield
def write_transaction():
    """A transaction that reads rows, then writes them (a state change and its Event, naming the previous state).

    NOTE: SQLite's deferred BEGIN fails at once (a busy snapshot, not waited
    for) when another connection wrote between the read and the write;
    IMMEDIATE takes the write lock first and waits for it. Nested: a savepoint.
    """
    if isinstance(database.obj, peewee.SqliteDatabase):
        return database.atomic("IMMEDIATE")
    return database.atomic()


def for_update(query):
    """Lock what a query reads until the transaction ends (PostgreSQL; SQLite's write transactions exclude others)."""
    return query.for_update() if isinstance(database.obj, peewee.PostgresqlDatabase) else query


def display_url(url):
    """A database URL fit for a log line: no user name or password."""
    return url.split("@")[-1]


def initialized(url):
    """Tell whether a cloud has used this database (its identity is there), without creating it.

    Raises peewee.OperationalError when the database server cannot be reached.
    """
    if url.startswith("sqlite") and not os.path.exists(parseresult_to_dict(urlparse(url))["database"]):
        return False
    probe = connect(url)
    try:
        with Setting.bind_ctx(probe):
            return probe.table_exists(Setting._meta.table_name) and Setting.get_or_none(key="cloud_id") is not None
    finally:
        probe.close()


def refresh_statistics():
    """Keep the query planner's statistics current where the database does not do it itself (SQLite)."""
    refresh = getattr(database.obj, "refresh_statistics", None)
    if refresh is not None:
        refresh()


def commit_token():
    """A value that changes whenever anything is committed to the database (None: none is known here).

    SQLite (one front end): its write generation. PostgreSQL: the current
    snapshot (`pg_current_snapshot()`: the next transaction id and those in
    progress), which no read-only statement changes and every commit does.
    """
    if isinstance(database.obj, peewee.PostgresqlDatabase):
        return database.execute_sql("SELECT pg_current_snapshot()::text").fetchone()[0]
    return generation()


def generation():
    """The write generation of a single-front-end database, or None when others may write too."""
    return getattr(database.obj, "generation", None)
