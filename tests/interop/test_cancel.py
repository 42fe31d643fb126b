"""Cancel a creation: DELETE of a CREATING resource stops its Job and leaves nothing behind.

Clients written for the plugfest look for `delete` in the 202 answer of a
create. The Job is cancelled whether it is still QUEUED (it never runs),
RUNNING (it stops at its next checkpoint, or after its last step, and the
kind's delete handler undoes what it made) or already finished.
"""
from pathlib import Path

import pytest
from falcon import testing

from cimi import auth
from cimi.http.app import create_app
from cimi.cloud import Cloud, Config
from tests.conftest import TEST_NODE, Client, machine_body

CIMI = "http://schemas.dmtf.org/cimi/1"


@pytest.fixture
def held(tmp_path, monkeypatch):
    """A cloud whose jobs run only when the test says (runner.run_one), and a client of it."""
    monkeypatch.setenv("CIMI_ADMIN_PASSWORD", "admin-pw")
    cloud = Cloud(Config(data_dir=str(tmp_path / "var"), workers=1, reconcile_every=0, default_network="",
                         libvirt_uris=[f"test://{TEST_NODE}"]), start_workers=False)   # no shared network to count
    auth.add_user("alice", "alice-pw")
    yield cloud, Client(testing.TestClient(create_app(cloud)), "alice", "alice-pw")
    cloud.close()


def bodies(client):
    cep = client.cep()
    return {
        "machines": machine_body(client, "cancelled"),
        "volumes": {"name": "cancelled", "volumeTemplate": {"volumeConfig": {"capacity": 1048576}}},
        "networks": {"name": "cancelled", "networkTemplate": {"networkConfig": {"networkType": "PRIVATE"}}},
        "machineImages": None,                     # a capture: needs a stopped machine first
    }, cep


def leftovers(cloud):
    """Names of the domains, volumes and networks the test-driver node holds beyond its seed."""
    conn = cloud.backend._host().conn
    return ({d.name() for d in conn.listAllDomains()}, {v.name() for p in conn.listAllStoragePools()
                                                        for v in p.listAllVolumes(0)},
            {n.name() for n in conn.listAllNetworks()})


def drain(cloud):
    while cloud.jobs.run_one():
        pass


def capture_body(cloud, client):
    resp = client.post("/cimi/machines", machine_body(client, "source", initialState="STOPPED"))
    drain(cloud)
    return {"name": "cancelled", "imageLocation": resp.headers["Location"]}


@pytest.mark.parametrize("collection", ["machines", "volumes", "networks", "machineImages"])
def test_a_queued_creation_is_cancelled_and_never_runs(held, collection):
    cloud, client = held
    body = bodies(client)[0][collection] or capture_body(cloud, client)
    before = leftovers(cloud)
    created = client.post(f"/cimi/{collection}", body)
    assert created.status_code == 202 and created.json["state"] == "CREATING"
    delete = [o["href"] for o in created.json["operations"] if o["rel"] == "delete"]
    assert delete == [created.headers["Location"]]           # offered in the create's answer
    answer = client.delete(delete[0])
    assert answer.status_code == 202 and answer.headers["CIMI-Job-URI"] == created.headers["CIMI-Job-URI"]
    drain(cloud)
    job = client.get(created.headers["CIMI-Job-URI"]).json
    assert job["state"] == "STOPPED" and "cancelled" in job["statusMessage"]
    assert client.get(created.headers["Location"]).status_code == 404
    assert leftovers(cloud) == before


def delete_during(cloud, client, method, location):
    """Make the backend's `method` receive a DELETE of the resource while it runs (a client racing the Job)."""
    backend = cloud.backend
    real = getattr(backend, method)

    def racing(*args, **kwargs):
        result = real(*args, **kwargs)
        racing.answer = client.delete(location[0])
        return result
    setattr(backend, method, racing)
    return racing


@pytest.mark.parametrize("collection,method", [("machines", "create_machine"), ("machines", "start_machine"),
                                               ("volumes", "create_volume"), ("networks", "create_network"),
                                               ("networks", "start_network"), ("machineImages", "capture_machine")])
def test_a_running_creation_stops_and_undoes_what_it_made(held, collection, method):
    cloud, client = held
    body = bodies(client)[0][collection] or capture_body(cloud, client)
    before = leftovers(cloud)
    location = []
    racing = delete_during(cloud, client, method, location)
    created = client.post(f"/cimi/{collection}", body)
    location.append(created.headers["Location"])
    drain(cloud)
    assert racing.answer.status_code == 202
    job = client.get(created.headers["CIMI-Job-URI"]).json
    assert job["state"] == "STOPPED" and "cancelled" in job["statusMessage"], job
    assert client.get(created.headers["Location"]).status_code == 404
    assert leftovers(cloud) == before


def test_a_finished_creation_is_deleted_as_usual(held):
    cloud, client = held
    created = client.post("/cimi/volumes", bodies(client)[0]["volumes"])
    drain(cloud)
    assert client.get(created.headers["CIMI-Job-URI"]).json["state"] == "SUCCESS"
    answer = client.delete(created.headers["Location"])
    assert answer.status_code == 202 and answer.headers["CIMI-Job-URI"] != created.headers["CIMI-Job-URI"]
    drain(cloud)
    assert client.get(created.headers["Location"]).status_code == 404
    assert client.get(created.headers["CIMI-Job-URI"]).json["state"] == "SUCCESS"


def test_a_cancelled_upload_keeps_none_of_its_bytes(held):
    cloud, client = held
    created = client.request("POST", "/cimi/machineImages", b"\0" * 65536 + b"tail",
                             headers={"Content-Type": "application/octet-stream"}, params={"name": "up"})
    staged = Path(cloud.config.data_dir) / "uploads"
    assert created.status_code == 202 and list(staged.iterdir())
    assert client.delete(created.headers["Location"]).status_code == 202
    drain(cloud)
    assert client.get(created.headers["CIMI-Job-URI"]).json["state"] == "STOPPED"
    assert client.get(created.headers["Location"]).status_code == 404
    assert list(staged.iterdir()) == []
