"""`cimi usage` on a terminal: a table per owner, over a period; a user sees only their own."""
import datetime
import time

from tests.client.test_script import SCRIPT, run_in_pty, script_env  # noqa: F401 (fixture)


def test_usage_prints_a_table_per_owner_on_a_terminal(run_json, script_env):  # noqa: F811
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1)
    run_json("machines", "create", "metered", "--config", "small", "--image", "blank", "--address-timeout", "0")
    time.sleep(2)
    run_json("machines", "stop", "metered")
    period = ["--from", start.strftime("%Y-%m-%dT%H:%M:%SZ")]
    admin = {**script_env, "CIMI_USER": "admin", "CIMI_PASSWORD": "admin-pw"}
    rc, text = run_in_pty([SCRIPT, "usage", *period], admin)
    assert rc == 0, text
    lines = [line for line in text.replace("\r\n", "\n").splitlines() if line.strip()]
    assert lines[0].startswith("from ") and "USER" in lines[1] and "CPU (vCPU-h)" in lines[1]
    alice = next(line.split() for line in lines if line.split()[0] == "alice")
    assert 0 < float(alice[1]) < 0.01 and 0 < float(alice[2]) < 0.01        # 1 vCPU, 512 MiB, a few seconds
    rc, text = run_in_pty([SCRIPT, "usage", "--user", "alice", *period], admin)
    assert rc == 0 and [line.split()[0] for line in text.splitlines()[2:] if line.strip()][-1] == "alice"
    rc, text = run_in_pty([SCRIPT, "usage", *period], script_env)           # alice herself
    assert rc == 0 and "alice" in text and "admin" not in text.split("USER", 1)[1]
    rc, text = run_in_pty([SCRIPT, "usage", "--from", "yesterday"], script_env)
    assert rc == 1 and "ISO 8601" in text
