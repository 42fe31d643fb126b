"""EventLogs and Events (DSP0263 5.17.8, 5.17.13): every state change is an Event, written with it.

On SQLite and on a real PostgreSQL: a Machine's life through the API is in
its EventLog and its owner's; the log is queryable with $filter, in JSON and
XML (valid against DSP8009); failed sign-ins are in the provider's log, which
only admins read; bob cannot read alice's logs.
"""
import base64

import pytest
from falcon import testing
from lxml import etree  # noqa: F401

from cimi.http.app import create_app
from cimi import auth
from cimi.store import events
from tests.api.test_store import database_url, make_cloud  # noqa: F401 (fixture)
from tests.api.test_xml_schema import check, xsd  # noqa: F401 (fixture)
from tests.conftest import XML, Client, machine_body

STATE = "http://schemas.dmtf.org/cimi/1/event/state"


@pytest.fixture
def clients(tmp_path, database_url, monkeypatch):  # noqa: F811
    cloud = make_cloud(tmp_path, database_url, monkeypatch)
    auth.add_user("alice", "alice-pw")
    auth.add_user("bob", "bob-pw")
    app = testing.TestClient(create_app(cloud))
    try:
        yield {name: Client(app, name, f"{name}-pw") for name in ("alice", "bob")} | {
            "admin": Client(app, "admin", "admin-pw"), "app": app}
    finally:
        cloud.close()


def states(client, log_href, query=""):
    found = client.get(f"{log_href}/events?$filter=type='{STATE}'{query}")
    assert found.status_code == 200, found.text
    return [(e["content"].get("previous"), e["content"]["state"]) for e in found.json.get("events", [])]


def test_every_state_change_is_an_event_in_the_resource_and_owner_logs(clients):
    alice, bob = clients["alice"], clients["bob"]
    _, machine = alice.create("machines", machine_body(alice, "ev1"))
    machine = alice.act(machine, "stop")
    log = machine["eventLog"]["href"]
    assert states(alice, log) == [(None, "CREATING"), ("CREATING", "STARTED"), ("STARTED", "STOPPING"),
                                  ("STOPPING", "STOPPED")]
    event = alice.get(log + "/events").json["events"][-1]
    assert event["content"]["resource"]["href"] == "machines/" + machine["id"].rsplit("/", 1)[1]
    assert event["content"]["resType"].endswith("/Machine") and event["content"]["initiator"] == "alice"
    assert event["severity"] == "low" and event["timestamp"].endswith("Z")
    # the full query language, on the typed columns
    assert states(alice, log, " and content/state='STOPPED'") == [("STOPPING", "STOPPED")]
    newest = alice.get(log + "/events?$orderby=timestamp:desc&$first=1&$last=1").json
    assert newest["count"] == 4 and len(newest["events"]) == 1
    # the owner's log has the Machine's events and its Jobs' start and end
    logs = alice.get(alice.cep()["eventLogs"]["href"] + "?$filter=name='user:alice'").json["eventLogs"]
    assert len(logs) == 1
    mine = alice.get(logs[0]["events"]["href"] + "?$filter=content/resType='http://schemas.dmtf.org/cimi/1/Job'")
    job_states = {e["content"]["state"] for e in mine.json["events"]}
    assert {"QUEUED", "RUNNING", "SUCCESS"} <= job_states
    # bob reads neither the Machine's log nor alice's
    assert bob.get(log).status_code == 404
    assert bob.get(log + "/events").status_code == 404
    assert bob.get(logs[0]["id"]).status_code == 404
    assert not bob.get(bob.cep()["eventLogs"]["href"]).json.get("eventLogs")
    assert clients["admin"].get(log + "/events").json["count"] == alice.get(log + "/events").json["count"]


def test_delete_is_the_last_event_and_the_log_outlives_the_resource(clients):
    alice = clients["alice"]
    _, machine = alice.create("machines", machine_body(alice, "ev2"))
    machine = alice.act(machine, "stop")
    resp = alice.delete(machine["id"])
    assert resp.status_code in (200, 202)
    if resp.status_code == 202:
        assert alice.wait(resp.headers["CIMI-Job-URI"])["state"] == "SUCCESS"
    last = alice.get(machine["eventLog"]["href"] + "/events").json["events"][-1]
    assert last["type"].endswith("/event/model") and last["content"]["change"] == "delete"


def test_failed_sign_ins_are_in_the_provider_log_only_admins_read(clients):
    app, alice, admin = clients["app"], clients["alice"], clients["admin"]
    token = base64.b64encode(b"mallory:guess").decode()
    assert app.simulate_get("/cimi/machines", headers={"Authorization": f"Basic {token}"}).status_code == 401
    provider = admin.get(admin.cep()["eventLogs"]["href"] + "?$filter=scope='provider'").json["eventLogs"][0]
    found = admin.get(provider["events"]["href"] + "?$filter=severity='medium' and content/initiator='mallory'")
    assert found.json["count"] == 1 and found.json["events"][0]["outcome"] == "Failure"
    assert alice.get(provider["id"]).status_code == 404


def test_a_log_s_summary_counts_its_events_by_severity_when_read(clients):
    app, admin = clients["app"], clients["admin"]
    href = admin.get(admin.cep()["eventLogs"]["href"] + "?$filter=scope='provider'").json["eventLogs"][0]["id"]
    before = admin.get(href).json["summary"]
    token = base64.b64encode(b"mallory:guess").decode()
    assert app.simulate_get("/cimi/machines", headers={"Authorization": f"Basic {token}"}).status_code == 401
    after = admin.get(href).json["summary"]
    assert after == {**before, "medium": before["medium"] + 1} and set(after) == {"low", "medium", "high", "critical"}
    listed = admin.get(admin.cep()["eventLogs"]["href"] + "?$filter=scope='provider'").json["eventLogs"][0]
    events_href = listed["events"]["href"]
    for severity, n in listed["summary"].items():
        assert admin.get(events_href + f"?$filter=severity='{severity}'").json["count"] == n, severity


def test_admin_actions_are_recorded(clients):
    from cimi.context import Context
    from cimi.ops import events as recorded
    admin = clients["admin"]
    users = {u.name: u for u in auth.users()}
    recorded.record(Context(user=users["admin"], base="http://x/cimi/", cloud=None), "set quota",
                    resource="quotas/q1", owner="alice", detail="cpu 8")
    logs = admin.get(admin.cep()["eventLogs"]["href"] + "?$filter=name='user:alice' or name='provider'").json
    for log in logs["eventLogs"]:
        found = admin.get(log["events"]["href"] + "?$filter=content/operation='set quota'").json
        assert found["count"] == 1 and found["events"][0]["content"]["initiator"] == "admin"
    alices = f"/cimi/eventLogs/{events.user_log('alice')}/events"
    mine = clients["alice"].get(alices + "?$filter=content/operation='set quota'")
    assert mine.json["count"] == 1


def test_event_logs_and_events_validate_as_xml(clients, xsd):  # noqa: F811
    alice = clients["alice"]
    _, machine = alice.create("machines", machine_body(alice, "ev3"))
    check(xsd, alice.get(machine["id"], accept=XML), "Machine")
    log = machine["eventLog"]["href"]
    doc = check(xsd, alice.get(log, accept=XML), "EventLog")
    assert doc.find("{http://schemas.dmtf.org/cimi/1}events").get("href") == log + "/events"
    assert isinstance(doc, etree._Element)
    check(xsd, alice.get(log + "/events", accept=XML), "Collection")
    event = alice.get(log + "/events").json["events"][0]
    check(xsd, alice.get(event["id"], accept=XML), "Event")
    check(xsd, alice.get(alice.cep()["eventLogs"]["href"], accept=XML), "Collection")
    check(xsd, alice.get(log + "?$expand=events", accept=XML), "EventLog")


def test_resources_made_before_events_get_their_log_and_a_first_event(tmp_path, database_url,  # noqa: F811
                                                                      monkeypatch):
    """Migration 7 gives what exists a log and one state Event (no `previous`), in its owner's log too."""
    from cimi.store import db, migrations
    from cimi.store.migrations.v0001_initial import resource_table
    database = db.open_database(database_url)
    assert migrations.migrate(database, until=6) == 6
    old = resource_table("volume")
    with database.bind_ctx([old]):
        old.insert(id="vol1", owner="alice", name="old volume", state="AVAILABLE", data='{"capacity": 2048}').execute()
    database.close()
    cloud = make_cloud(tmp_path, database_url, monkeypatch)
    try:
        auth.add_user("alice", "alice-pw")
        alice = Client(testing.TestClient(create_app(cloud)), "alice", "alice-pw")
        volume = alice.get(alice.cep()["volumes"]["href"] + "/vol1").json
        first = alice.get(volume["eventLog"]["href"] + "/events").json["events"]
        assert [(e["content"]["state"], e["content"]["measures"]) for e in first] == [("AVAILABLE", {"capacity": 2048})]
        assert "previous" not in first[0]["content"]
        alices = f"/cimi/eventLogs/{events.user_log('alice')}/events"
        mine = alice.get(alices + "?$filter=content/resource/href='volumes/vol1'")
        assert mine.json["count"] == 1
    finally:
        cloud.close()


def test_what_an_admin_does_through_the_api_is_an_event_and_a_refused_request_is_none(clients):
    admin, alice = clients["admin"], clients["alice"]
    _, config = admin.create("machineConfigs", {"name": "audited", "cpu": 1, "memory": 262144, "disks": []})
    assert admin.put(config["id"], {**{k: config[k] for k in ("name", "cpu", "memory")}, "cpu": 2}).status_code == 200
    assert admin.post(admin.cep()["machineConfigs"]["href"], {"name": "bad", "cpu": "x"}).status_code == 400
    assert alice.post(alice.cep()["volumes"]["href"],
                      {"name": "v", "volumeTemplate": {"volumeConfig": {"capacity": 1024}}}).status_code == 202
    provider = admin.get(admin.cep()["eventLogs"]["href"] + "?$filter=scope='provider'").json["eventLogs"][0]
    found = admin.get(provider["events"]["href"] + "?$filter=content/initiator='admin'&$orderby=timestamp").json
    operations = [(e["content"]["operation"], e["content"]["resource"]["href"]) for e in found.get("events", [])
                  if "operation" in e["content"]]                       # the access Events, not state ones
    assert ("add MachineConfiguration", config["id"]) in operations
    assert any(op == "edit MachineConfiguration" for op, _ in operations)
    assert not any("bad" in str(e) for e in found.get("events", []))           # refused: nothing recorded
    assert not any(op.endswith("Volume") for op, _ in operations)              # alice is no admin


def test_user_management_on_the_host_is_an_admin_action_in_the_provider_log(clients):
    admin = clients["admin"]
    auth.add_user("carol", "carol-pw", groups=["devs"])
    auth.delete_group("devs")
    auth.delete_user("carol")
    provider = admin.get(admin.cep()["eventLogs"]["href"] + "?$filter=scope='provider'").json["eventLogs"][0]
    found = admin.get(provider["events"]["href"] + "?$filter=content/initiator!='admin'&$orderby=timestamp").json
    done = [(e["content"]["operation"], e["content"]["initiator"].startswith("host:"))
            for e in found.get("events", []) if "operation" in e["content"]]
    assert [d for d in done if d[0] != "sign-in"][-3:] == [("add user", True), ("delete group", True),
                                                         ("delete user", True)]


def test_an_admin_upload_is_recorded_and_holds_no_transaction_while_its_bytes_arrive(clients):
    """The bytes are staged first: another user's write goes through while an admin's upload is still arriving."""
    import io
    import threading
    admin, alice, app = clients["admin"], clients["alice"], clients["app"]
    arriving, finish = threading.Event(), threading.Event()

    def body():
        yield b"\0" * 65536
        arriving.set()
        finish.wait(30)
        yield b"\0" * 65536

    class Slow(io.RawIOBase):
        """A request body whose second half arrives only when the test says so."""
        def __init__(self):
            self.chunks = body()

        def readable(self):
            return True

        def readinto(self, buffer):
            chunk = next(self.chunks, b"")
            buffer[:len(chunk)] = chunk
            return len(chunk)

    token = base64.b64encode(b"admin:admin-pw").decode()
    result = {}
    upload = threading.Thread(target=lambda: result.update(r=app.simulate_post(
        admin.cep()["machineImages"]["href"].replace("http://falconframework.org", ""),
        params={"name": "slow", "format": "raw"}, extras={"wsgi.input": io.BufferedReader(Slow(), 65536)},
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/octet-stream",
                 "Content-Length": str(2 * 65536)})))
    upload.start()
    assert arriving.wait(30)
    try:
        made = alice.post(alice.cep()["volumes"]["href"],
                          {"name": "meanwhile", "volumeTemplate": {"volumeConfig": {"capacity": 1024}}})
        assert made.status_code == 202, made.text                 # not "database is locked"
    finally:
        finish.set()
        upload.join(60)
    assert result["r"].status_code == 202, result["r"].text
    provider = admin.get(admin.cep()["eventLogs"]["href"] + "?$filter=scope='provider'").json["eventLogs"][0]
    found = admin.get(provider["events"]["href"] + "?$filter=content/initiator='admin'").json
    assert any(e["content"].get("operation") == "add MachineImage" for e in found.get("events", []))
