"""Fixtures for the query tests: a store table on SQLite and PostgreSQL.

PostgreSQL is a throwaway cluster made with initdb in a temporary
directory, run as the ``postgres`` user on a free loopback port, and
stopped at the end of the session. When it cannot start, the PostgreSQL
tests are skipped with the reason, and the reason is printed in the
terminal summary so that nobody mistakes a skip for a pass.
"""

import datetime
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import warnings

import peewee
import pytest

from cimi.query.sql import compile_filters, make_resolver

from .dataset import COLUMNS, ITEMS, SCHEMA_TYPES

PG_BIN = "/usr/lib/postgresql/15/bin"

DATABASES = ["sqlite", "postgresql"]
_pg_problem = []


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


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(*argv):
    user = pwd.getpwnam("postgres")

    def demote():
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)

    return subprocess.run(argv, preexec_fn=demote, capture_output=True, text=True,
                          timeout=120, check=True)


def _ensure_binaries():
    if not os.path.exists(f"{PG_BIN}/initdb"):
        subprocess.run(["apt-get", "install", "-y", "postgresql-15"], capture_output=True,
                       timeout=600, check=True)


@pytest.fixture(scope="session")
def postgresql_url():
    """Start a throwaway PostgreSQL 15 cluster and yield its URL."""
    root = tempfile.mkdtemp(prefix="cimi-pg-")
    datadir, port = os.path.join(root, "data"), _free_port()
    try:
        _ensure_binaries()
        shutil.chown(root, "postgres", "postgres")
        _as_postgres(f"{PG_BIN}/initdb", "-D", datadir, "-U", "postgres",
                     "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
        _as_postgres(f"{PG_BIN}/pg_ctl", "-D", datadir, "-w", "-l", f"{root}/log",
                     "-o", f"-h 127.0.0.1 -p {port} -k {root}", "start")
        _as_postgres(f"{PG_BIN}/createdb", "-h", "127.0.0.1", "-p", str(port),
                     "-U", "postgres", "cimi")
    except (OSError, KeyError, subprocess.SubprocessError) as error:
        detail = getattr(error, "stderr", "") or ""
        _pg_problem.append(f"PostgreSQL did not start: {error} {detail}".strip())
        warnings.warn(_pg_problem[-1])
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(_pg_problem[-1])
    yield f"postgresql://postgres@127.0.0.1:{port}/cimi"
    _as_postgres(f"{PG_BIN}/pg_ctl", "-D", datadir, "-m", "fast", "stop")
    shutil.rmtree(root, ignore_errors=True)


def pytest_terminal_summary(terminalreporter):
    for problem in _pg_problem:
        terminalreporter.write_line(f"!!! POSTGRESQL TESTS SKIPPED: {problem}", red=True, bold=True)


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
