"""`cimi quotas` on a terminal (a pty) against a live server: an admin sets, a user reads and is refused."""
import json
import os
from pathlib import Path

from tests.client.test_script import SCRIPT, run_in_pty

ROOT = Path(__file__).resolve().parents[2]


def terminal(user):
    """A terminal's settings for a user; the script imports this checkout's code (the venv may be shared)."""
    return {**os.environ, "TERM": "xterm", "COLUMNS": "160", "CIMI_USER": user, "CIMI_PASSWORD": user + "-pw",
            "PYTHONPATH": str(ROOT)}


def test_admin_sets_quotas_and_users_read_them_in_a_terminal(env, run):
    admin = terminal("admin")
    rc, text = run_in_pty([SCRIPT, "quotas", "set", "--machines", "5", "--by-value-cpu", "2"], admin)
    assert rc == 0 and "machines" in text and "5" in text, text
    rc, text = run_in_pty([SCRIPT, "quotas", "set", "--user", "alice", "--cpu", "4", "--memory", "8GiB",
                           "--volumes", "1", "--retention", "volumes=3600"], admin)
    assert rc == 0 and "alice" in text, text
    rc, text = run_in_pty([SCRIPT, "quotas", "set", "--user", "alice", "--cpu", "6"], admin)   # only cpu changes
    assert rc == 0, text
    rc, out, err = run("--output", "json", "quotas", "show")            # alice, in-process: her own quota
    quota = json.loads(out)
    assert (quota["user"], quota["cpu"], quota["memory"], quota["volumes"]) == ("alice", 6, 8 * 1024 * 1024, 1)
    assert quota["quarantineRetention"] == {"volumes": 3600}
    rc, text = run_in_pty([SCRIPT, "quotas", "list"], terminal("alice"))
    assert rc == 0 and "(default)" in text and "alice" in text and "0 / 6" in text and "0 / 8 GiB" in text, text
    rc, text = run_in_pty([SCRIPT, "quotas", "list"], terminal("bob"))
    assert rc == 0 and "(default)" in text and "alice" not in text, text
    # users cannot set quotas; what the quota refuses names it
    rc, text = run_in_pty([SCRIPT, "quotas", "set", "--user", "alice", "--cpu", "100"], terminal("alice"))
    assert rc == 1 and "edit is not offered" in text, text
    rc, text = run_in_pty([SCRIPT, "volumes", "create", "v1", "--size", "1G"], terminal("alice"))
    assert rc == 0, text
    rc, text = run_in_pty([SCRIPT, "volumes", "create", "v2", "--size", "1G"], terminal("alice"))
    assert rc == 1 and "quota volumes of alice: 1 in use + 1 asked > 1" in text, text
    rc, text = run_in_pty([SCRIPT, "quotas", "set", "--user", "alice"], admin)
    assert rc == 2 and "give at least one limit" in text, text
