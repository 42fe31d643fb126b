"""Events are written in the transaction of the change they record: a kill between the two cannot be seen.

A real cimi-server (test driver, SQLite file) runs a burst of Jobs and is
killed (SIGKILL) in the middle. In the rows it left, every resource's state
is its last state Event, each Event follows from the one before (its
`previous` is that one's state), every deleted row's log ends with its
deletion, and each Event is also in its owner's log: no change without its
Event, no Event without its change. Started again, the server ends the
interrupted Jobs, and the same holds.
"""
import json
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.backends.test_crash import Server
from tests.conftest import TEST_NODE

def machine_body(server, name):
    config = server.items("machineConfigs")[0]["id"]
    image = server.items("machineImages")[0]["id"]
    return {"resourceURI": "http://schemas.dmtf.org/cimi/1/MachineCreate", "name": name,
            "machineTemplate": {"machineConfig": {"href": config}, "machineImage": {"href": image}}}


def volume_body(name):
    return {"resourceURI": "http://schemas.dmtf.org/cimi/1/VolumeCreate", "name": name,
            "volumeTemplate": {"volumeConfig": {"type": "http://schemas.dmtf.org/cimi/1/mapped", "capacity": 1024}}}


def check_events_match_rows(path):
    """The invariants of the module docstring, read straight from the database file."""
    with sqlite3.connect(path) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                  if name not in ("event", "event_log")
                  and "state" in [c[1] for c in db.execute(f'PRAGMA table_info("{name}")')]]
        rows = {row_id: state for table in tables
                for row_id, state in db.execute(f'SELECT id, state FROM "{table}" WHERE state IS NOT NULL')}
        logged = {}
        for parent, owner, data in db.execute("SELECT parent, owner, data FROM event ORDER BY parent, created, id"):
            logged.setdefault(parent, []).append((owner, json.loads(data)))
    resource_logs = {log: items for log, items in logged.items() if not log.startswith("user-") and log != "provider"}
    assert resource_logs, "no Event at all"
    for row_id, state in rows.items():
        assert row_id in resource_logs, f"{row_id} ({state}) has no Event"
    for log, items in resource_logs.items():
        contents = [data["content"] for _, data in items]
        assert "previous" not in contents[0], f"{log}: the first Event is not the row's insertion"
        for before, after in zip(contents, contents[1:]):
            assert after.get("previous") == before["state"] if "state" in before else False, \
                f"{log}: an Event is missing between {before} and {after}"
        last = contents[-1]
        if log in rows:
            assert last.get("state") == rows[log], f"{log}: row {rows[log]} but last Event {last}"
        else:
            assert last.get("change") == "delete", f"{log}: row gone but last Event {last}"
    # every Event of a resource's log is also in its owner's log, and nothing more
    twins = Counter(json.dumps(data, sort_keys=True) for items in resource_logs.values() for _, data in items)
    in_owner_logs = Counter(json.dumps(data, sort_keys=True) for log, items in logged.items() if log not in resource_logs
                            for _, data in items if data["type"].endswith(("/state", "/model")))
    assert twins == in_owner_logs
    return rows


@pytest.fixture
def server(tmp_path):
    srv = Server(f"test://{TEST_NODE}", "default-pool", tmp_path)
    srv.env.update({"CIMI_WORKERS": "4", "CIMI_JOB_LEASE": "2"})
    srv.env.pop("CIMI_IMAGE_POOL")
    yield srv.start()
    if srv.proc.poll() is None:
        srv.stop()


@pytest.mark.parametrize("delay", (0.3, 0.8))
def test_kill_in_the_middle_of_many_jobs_leaves_no_change_without_its_event(server, tmp_path, delay):
    body = machine_body(server, "warm")
    queued = []

    def burst(n):
        for i in range(200):                # more than the server does before the kill, however fast it is
            try:
                status, headers, _ = server.call("POST", "machines" if i % 2 else "volumes",
                                                 body if i % 2 else volume_body(f"v{n}-{i}"))
            except OSError:                 # killed
                return
            if status == 202:
                queued.append(headers["CIMI-Job-URI"])

    assert server.call("POST", "machines", body)[0] == 202
    threads = [threading.Thread(target=burst, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(delay)
    server.kill()
    for thread in threads:
        thread.join()
    database = Path(server.env["CIMI_DATA_DIR"]) / "cimi.sqlite3"
    killed = check_events_match_rows(database)
    assert {"RUNNING", "QUEUED", "CREATING"} & set(killed.values()), "the kill came after the burst, not in it"
    server.start()                      # it fails the interrupted Jobs and re-reads their targets
    deadline = time.monotonic() + 60
    while server.items("jobs", "?$filter=state='RUNNING' or state='QUEUED'"):
        assert time.monotonic() < deadline, "jobs did not end after the restart"
        time.sleep(0.3)
    rows = check_events_match_rows(database)
    assert rows and queued
