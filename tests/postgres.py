"""A throwaway PostgreSQL server for the tests that are about the database.

initdb in a temporary directory, run as the ``postgres`` user on a free
loopback port, stopped at the end of the session. When it cannot start, the
PostgreSQL tests are skipped with the reason, and the reason is printed in
the terminal summary so that nobody mistakes a skip for a pass.
"""
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import warnings

import pytest

PG_BIN = "/usr/lib/postgresql/15/bin"

_pg_problem = []


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


@contextlib.contextmanager
def cluster():
    """Start a throwaway PostgreSQL 15 cluster (initdb, a free loopback port, database "cimi"); yield its URL.

    Raises OSError, KeyError or subprocess.SubprocessError when it cannot start.
    bench/query.py uses it too.
    """
    root = tempfile.mkdtemp(prefix="cimi-pg-")
    datadir, port = os.path.join(root, "data"), _free_port()
    try:
        _ensure_binaries()
        shutil.chown(root, "postgres", "postgres")
        _as_postgres(f"{PG_BIN}/initdb", "-D", datadir, "-U", "postgres",
                     "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
        _as_postgres(f"{PG_BIN}/pg_ctl", "-D", datadir, "-w", "-l", f"{root}/log",
                     "-o", f"-h 127.0.0.1 -p {port} -k {root}", "start")
        try:
            _as_postgres(f"{PG_BIN}/createdb", "-h", "127.0.0.1", "-p", str(port),
                         "-U", "postgres", "cimi")
            yield f"postgresql://postgres@127.0.0.1:{port}/cimi"
        finally:
            _as_postgres(f"{PG_BIN}/pg_ctl", "-D", datadir, "-m", "fast", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgresql_url():
    """Start a throwaway PostgreSQL 15 cluster and yield its URL."""
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(cluster())
        except (OSError, KeyError, subprocess.SubprocessError) as error:
            detail = getattr(error, "stderr", "") or ""
            _pg_problem.append(f"PostgreSQL did not start: {error} {detail}".strip())
            warnings.warn(_pg_problem[-1])
            pytest.skip(_pg_problem[-1])
        yield url


def pytest_terminal_summary(terminalreporter):
    for problem in _pg_problem:
        terminalreporter.write_line(f"!!! POSTGRESQL TESTS SKIPPED: {problem}", red=True, bold=True)


