"""The store on SQLite and on a real PostgreSQL: the API, job claiming, recovery after a crash."""
import threading
import uuid

import psycopg2
import pytest
from falcon import testing

from cimi import errors, jobs, store
from cimi.store import db
from cimi.http.app import create_app
from cimi.cloud import Cloud, Config
from tests.conftest import TEST_NODE, Client, machine_body


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """An empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    server = request.getfixturevalue("postgresql_url")
    name = "t" + uuid.uuid4().hex[:12]
    conn = psycopg2.connect(server)
    conn.autocommit = True
    conn.cursor().execute(f"CREATE DATABASE {name}")
    conn.close()
    return server.rsplit("/", 1)[0] + "/" + name


def make_cloud(tmp_path, url, monkeypatch, **options):
    monkeypatch.setenv("CIMI_ADMIN_PASSWORD", "admin-pw")
    return Cloud(Config(data_dir=str(tmp_path / "var"), database=url, libvirt_uris=[f"test://{TEST_NODE}"],
                        **options))


def test_machine_lifecycle_and_queries(tmp_path, database_url, monkeypatch):
    cloud = make_cloud(tmp_path, database_url, monkeypatch)
    try:
        admin = Client(testing.TestClient(create_app(cloud)), "admin", "admin-pw")
        _, machine = admin.create("machines", machine_body(admin, "pg1"))
        assert machine["state"] == "STARTED"
        machine = admin.act(machine, "stop")
        assert machine["state"] == "STOPPED"
        found = admin.get(admin.cep()["machines"]["href"] + "?$filter=state='STOPPED' and cpu>=1&$orderby=name:desc")
        assert [m["name"] for m in found.json["machines"]] == ["pg1"]
        edited = admin.put(machine["id"] + "?$select=description", {"description": "on " + database_url[:6]})
        assert edited.status_code == 200 and edited.json["description"].startswith("on ")
    finally:
        cloud.close()


def test_two_workers_never_claim_the_same_job(tmp_path, database_url, monkeypatch):
    """Front ends sharing a database race for jobs; each job is claimed exactly once."""
    cloud = make_cloud(tmp_path, database_url, monkeypatch, workers=0)
    try:
        ids = [store.insert("Job", {"state": "QUEUED", "handler": "none", "data": {"_base": "http://h/cimi/"}})["id"]
               for _ in range(60)]
        runners = [jobs.Runner(cloud) for _ in range(4)]
        claimed = [[] for _ in runners]

        def drain(runner, out):
            cloud.database.connect(reuse_if_open=True)
            while (row := runner.claim()) is not None:
                out.append(row["id"])
            cloud.database.close()
        threads = [threading.Thread(target=drain, args=(r, out)) for r, out in zip(runners, claimed)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        everything = [i for out in claimed for i in out]
        assert sorted(everything) == sorted(ids)          # all claimed, none twice
        model = db.model_for("Job")
        assert model.select().where(model.state == "RUNNING").count() == 60
    finally:
        cloud.close()


def test_restart_fails_interrupted_jobs_and_rereads_state(tmp_path, database_url, monkeypatch):
    """A job RUNNING when its server died is failed at the next start, and its target re-read."""
    cloud = make_cloud(tmp_path, database_url, monkeypatch)
    admin = Client(testing.TestClient(create_app(cloud)), "admin", "admin-pw")
    _, machine = admin.create("machines", machine_body(admin, "crash"))
    row_id = machine["id"].rsplit("/", 1)[-1]
    store.update("Machine", row_id, {"state": "STOPPING"})
    job = store.insert("Job", {"state": "RUNNING", "handler": "Machine.stop", "data": {
        "_base": "http://falconframework.org/cimi/", "_target": ["Machine", row_id], "progress": 10,
        "targetResource": {"href": machine["id"]}, "affectedResources": [{"href": machine["id"]}],
        "action": "http://schemas.dmtf.org/cimi/1/action/stop"}})
    model = db.model_for("Job")
    model.update(lease_until=db.utcnow() - jobs.LEASE).where(model.id == job["id"]).execute()
    cloud.jobs.stop()
    cloud.jobs.start()                                       # what a new server process does first
    after = store.get("Job", job["id"])
    assert after["state"] == "FAILED" and "interrupted" in after["data"]["statusMessage"]
    assert after["data"]["progress"] == 100
    assert store.get("Machine", row_id)["state"] == "STARTED"   # what libvirt says, not STOPPING
    cloud.close()


def test_a_job_another_server_failed_as_interrupted_is_not_ended_again(tmp_path, database_url, monkeypatch):
    """A server too slow to renew its lease loses its job to another's recovery: the Job ends once."""
    cloud = make_cloud(tmp_path, database_url, monkeypatch, workers=0)
    try:
        job = store.insert("Job", {"state": "QUEUED", "handler": "none", "data": {"_base": "http://h/cimi/"}})
        slow, other = jobs.Runner(cloud), jobs.Runner(cloud)
        assert slow.claim()["id"] == job["id"]
        model = db.model_for("Job")
        model.update(lease_until=db.utcnow() - jobs.LEASE).where(model.id == job["id"]).execute()
        assert other.recover() == 1
        slow.finish(job["id"], "SUCCESS", None, 0)
        after = store.get("Job", job["id"])
        assert after["state"] == "FAILED" and "interrupted" in after["data"]["statusMessage"]
        assert after["data"]["returnCode"] == 500
    finally:
        cloud.close()


def test_cached_heads_follow_every_write_on_sqlite(tmp_path, monkeypatch):
    """A read answered from memory is never older than the last write, whichever code wrote."""
    cloud = make_cloud(tmp_path, f"sqlite:///{tmp_path / 'h.sqlite3'}", monkeypatch, workers=0)
    try:
        row = store.insert("Volume", {"name": "v", "data": {"capacity": 1}})
        assert store.head("Volume", row["id"])["version"] == 1
        model = db.model_for("Volume")
        model.update(version=model.version + 1).where(model.id == row["id"]).execute()    # not through store
        assert store.head("Volume", row["id"])["version"] == 2
        with cloud.database.atomic():
            model.update(version=7).where(model.id == row["id"]).execute()
        assert store.head("Volume", row["id"])["version"] == 7
        store.delete("Volume", row["id"])
        with pytest.raises(errors.NotFound):
            store.head("Volume", row["id"])
    finally:
        cloud.close()


def test_the_numbered_migrations_make_every_kind_s_table(database_url):
    """Frozen migrations (they never import today's models) still give each registered kind its table, twice safely."""
    from cimi.kinds import load_all
    from cimi.store import migrations
    database = db.open_database(database_url)
    try:
        assert migrations.migrate(database) == len(migrations.steps()) >= 4
        assert migrations.migrate(database) == len(migrations.steps())       # a second start applies nothing
        tables = set(database.get_tables())
        missing = [k.name for k in load_all() if db.model_for(k.name)._meta.table_name not in tables]
        assert missing == []
        assert {"user", "setting", "schemaversion"} <= tables
    finally:
        database.close()
