"""A real CIMI server on loopback for the client tests: waitress in a thread, a fresh Cloud per test."""
import threading

import pytest
from waitress.server import create_server

from cimi.http.app import create_app
from cimiclient import Client
from tests.conftest import cloud  # noqa: F401 (the Cloud fixture: fresh data dir, test:// node, users)


@pytest.fixture
def server(cloud):  # noqa: F811
    """The CloudEntryPoint URL of a live server on a free 127.0.0.1 port."""
    srv = create_server(create_app(cloud), host="127.0.0.1", port=0, threads=6, ident="cimi-test")
    stopping = threading.Event()

    def serve():
        try:
            srv.run()
        except OSError:   # the loop's select sees the socket closed under it at shutdown
            if not stopping.is_set():
                raise

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.effective_port}/cimi/cloudEntryPoint"
    stopping.set()
    srv.close()
    for channel in list(srv._map.values()):   # kept-alive client connections (libcloud's session)
        channel.close()
    srv.task_dispatcher.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def client(server):
    return Client.connect(server, "alice", "alice-pw", timeout=30)


@pytest.fixture
def admin_client(server):
    return Client.connect(server, "admin", "admin-pw", timeout=30)


@pytest.fixture
def env(server, monkeypatch, tmp_path):
    """CIMI_* settings for alice, and no stray user config file."""
    monkeypatch.setenv("CIMI_ENDPOINT", server)
    monkeypatch.setenv("CIMI_USER", "alice")
    monkeypatch.setenv("CIMI_PASSWORD", "alice-pw")
    monkeypatch.setenv("CIMI_CONFIG", str(tmp_path / "no-config.ini"))
    monkeypatch.delenv("CIMI_PROFILE", raising=False)
    return server


@pytest.fixture
def run(env, capsys):
    """Run `cimi ARGS...` in-process (stdout/stderr captured, so not a terminal); return (rc, out, err)."""
    from cimiclient.cli import main

    def _run(*argv):
        capsys.readouterr()
        rc = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return rc, out, err
    return _run


@pytest.fixture
def run_json(run):
    """Run a command with --output json; assert it succeeded; return the decoded document."""
    import json

    def _run(*argv):
        rc, out, err = run("--output", "json", *argv)
        assert rc == 0, err
        return json.loads(out)
    return _run


@pytest.fixture
def machine(run_json):
    """A started machine named web1 (small, blank), made through the CLI."""
    return run_json("machines", "create", "web1", "--config", "small", "--image", "blank")
