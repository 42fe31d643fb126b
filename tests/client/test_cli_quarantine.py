"""`cimi quarantine list|restore|purge` on a terminal, against a server that keeps deleted resources."""
from pathlib import Path

import pytest

from cimiclient import NotFound
from tests.client.test_script import SCRIPT, run_in_pty, script_env  # noqa: F401 (fixture)

ROOT = str(Path(__file__).resolve().parents[2])


@pytest.fixture
def term_env(script_env):  # noqa: F811
    """The script's environment, importing this checkout's cimiclient (a shared venv may point elsewhere)."""
    return {**script_env, "PYTHONPATH": ROOT}


def test_list_restore_and_purge_on_a_terminal(cloud, client, term_env):
    cloud.config.quarantine_retention = {"volumes": 86400, "machines": 86400}
    vol = client.finish(client.create("volumes", client.volume_body("keepme", capacity_kib=1024)))
    rc, text = run_in_pty([SCRIPT, "volumes", "delete", "keepme"], term_env)
    assert rc == 0, text
    rc, text = run_in_pty([SCRIPT, "quarantine", "list"], term_env)
    assert rc == 0, text
    [row] = [line for line in text.splitlines() if "keepme" in line]
    assert "Volume" in row and "alice" in row and "QUARANTINED" in row and str(1024 * 1024) in row
    rc, text = run_in_pty([SCRIPT, "quarantine", "restore", "keepme"], term_env)
    assert rc == 0 and "AVAILABLE" in text, text
    assert client.get(vol["id"])["state"] == "AVAILABLE"
    rc, text = run_in_pty([SCRIPT, "quarantine", "list"], term_env)
    assert rc == 0 and "no quarantinedResources" in text, text
    client.finish(client.delete(client.get(vol["id"])))
    rc, text = run_in_pty([SCRIPT, "quarantine", "purge", "keepme"], term_env)
    assert rc == 0 and "purged keepme: done" in text, text
    assert client.list("quarantinedResources") == []
    try:
        client.get(vol["id"])
        raise AssertionError("the purged Volume is still there")
    except NotFound:
        pass


def test_restore_of_an_unknown_entry_exits_1_with_the_reason(cloud, term_env):
    rc, text = run_in_pty([SCRIPT, "quarantine", "restore", "nothing-like-it"], term_env)
    assert rc == 1 and "no quarantinedResources with id or name 'nothing-like-it'" in text, text
