"""Quarantine instead of instant loss: deleted Machines, Volumes and images wait, then come back or go.

A deleted resource answers 404 at its href and is listed in quarantinedResources
(its owner's and the admins'); restore brings it back at the same href in a
stable state; purge (a Job) and expiry remove its data for good.
"""
import datetime

import pytest
from falcon import testing
from lxml import etree

from cimi import auth
from cimi.cloud import Cloud, Config
from cimi.http.app import create_app
from cimi import naming, store
from cimi.ops import quarantine
from tests.conftest import TEST_NODE, XML, Client, machine_body
from tests.api.test_store import database_url  # noqa: F401 (fixture: SQLite and PostgreSQL)
from tests.api.test_xml_schema import check, xsd  # noqa: F401 (fixture)

CIMI = "http://schemas.dmtf.org/cimi/1"
EXT = "urn:darn-simple-cloud:cimi"
DAY = 86400


@pytest.fixture
def retained(cloud):
    cloud.config.quarantine_retention = {"machines": 7 * DAY, "volumes": 7 * DAY, "machineImages": 30 * DAY}
    return cloud


def entries(client, query=""):
    return client.get(client.cep()["quarantinedResources"]["href"] + query).json.get("quarantinedResources", [])


def delete(client, href):
    resp = client.delete(href)
    assert resp.status_code == 202, resp.text
    job = client.wait(resp.headers["CIMI-Job-URI"])
    assert job["state"] == "SUCCESS", job.get("statusMessage")


def operate(client, entry, name, status=202):
    """POST an entry's extension operation; wait for its Job; return the response."""
    [op] = [o for o in entry["operations"] if o["rel"] == f"{EXT}:{name}"]
    resp = client.post(op["href"], {"resourceURI": f"{CIMI}/Action", "action": f"{EXT}:{name}"})
    assert resp.status_code == status, resp.text
    if status == 202:
        job = client.wait(resp.headers["CIMI-Job-URI"])
        assert job["state"] == "SUCCESS", job.get("statusMessage")
    return resp


def volume(client, name="v1"):
    return client.create("volumes", {"name": name, "volumeTemplate": {"volumeConfig": {"capacity": 1024}}})[1]


def machine(client, name="m1"):
    return client.create("machines", machine_body(client, name))[1]


def _pool_paths(libvirt_conn):
    return {v.path() for v in libvirt_conn.storagePoolLookupByName("default-pool").listAllVolumes(0)}


# --- retention 0: today's behaviour ------------------------------------------------------

def test_without_retention_a_delete_removes_the_data_at_once(alice, cloud, libvirt_conn):
    before = _pool_paths(libvirt_conn)
    v = volume(alice)
    delete(alice, v["id"])
    assert alice.get(v["id"]).status_code == 404
    assert entries(alice) == [] and _pool_paths(libvirt_conn) == before


# --- into quarantine -------------------------------------------------------------------------

def test_a_deleted_machine_is_gone_from_its_href_but_its_disks_stay(alice, retained, libvirt_conn):
    m = machine(alice)
    disks = alice.get(m["disks"]["href"]).json["disks"]
    pool = _pool_paths(libvirt_conn)
    delete(alice, m["id"])
    assert alice.get(m["id"]).status_code == 404
    assert m["id"] not in [x["id"] for x in alice.get(alice.cep()["machines"]["href"]).json.get("machines", [])]
    assert libvirt_conn.listAllDomains(0) == []                 # the domain is undefined
    assert _pool_paths(libvirt_conn) == pool                    # its disks are kept
    [entry] = entries(alice)
    assert entry["resource"]["href"] == m["id"] and entry["resourceType"] == f"{CIMI}/Machine"
    assert entry["id"].rsplit("/", 1)[-1] == m["id"].rsplit("/", 1)[-1]   # the same id
    assert (entry["name"], entry["owner"], entry["state"]) == ("m1", "alice", "QUARANTINED")
    assert entry["size"] == sum(d["capacity"] for d in disks) * 1024
    quarantined = datetime.datetime.strptime(entry["quarantined"], "%Y-%m-%dT%H:%M:%SZ")
    assert datetime.datetime.strptime(entry["expires"], "%Y-%m-%dT%H:%M:%SZ") - quarantined \
        == datetime.timedelta(days=7)


def test_a_restored_machine_comes_back_stopped_with_its_disks(alice, retained, libvirt_conn):
    m = machine(alice)
    disks = alice.get(m["disks"]["href"]).json["disks"]
    nics = alice.get(m["networkInterfaces"]["href"]).json.get("machineNetworkInterfaces", [])
    delete(alice, m["id"])
    [entry] = entries(alice)
    operate(alice, entry, "restore")
    back = alice.get(m["id"]).json
    assert back["state"] == "STOPPED" and back["name"] == "m1"
    assert alice.get(m["disks"]["href"]).json["disks"] == disks
    assert alice.get(m["networkInterfaces"]["href"]).json.get("machineNetworkInterfaces", []) == nics
    assert entries(alice) == [] and alice.get(entry["id"]).status_code == 404
    assert alice.act(back, "start")["state"] == "STARTED"
    assert [d.name() for d in libvirt_conn.listAllDomains(0)] != []


def attach(client, machine_row, volume_row, location="/dev/vdb"):
    resp = client.post(machine_row["volumes"]["href"], {"volume": {"href": volume_row["id"]},
                                                        "initialLocation": location})
    assert resp.status_code == 202, resp.text
    assert client.wait(resp.headers["CIMI-Job-URI"])["state"] == "SUCCESS"


def attached_volumes(client, machine_row):
    return [mv["volume"]["href"] for mv in client.get(machine_row["volumes"]["href"]).json.get("machineVolumes", [])]


def test_a_restored_machine_gets_back_the_volumes_still_free(alice, retained, libvirt_conn):
    m, kept, taken = machine(alice), volume(alice, "kept"), volume(alice, "taken")
    attach(alice, m, kept)
    attach(alice, m, taken, "/dev/vdc")
    delete(alice, m["id"])
    assert alice.get(kept["id"]).json.get("attachedTo") is None            # released, as by a delete
    other = machine(alice, "m2")
    attach(alice, other, taken)                                             # taken meanwhile
    [entry] = entries(alice)
    [op] = [o for o in entry["operations"] if o["rel"] == f"{EXT}:restore"]
    resp = alice.post(op["href"], {"resourceURI": f"{CIMI}/Action", "action": f"{EXT}:restore"})
    job = alice.wait(resp.headers["CIMI-Job-URI"])
    assert job["state"] == "SUCCESS" and "no longer free: taken" in job["statusMessage"], job
    assert attached_volumes(alice, m) == [kept["id"]] and attached_volumes(alice, other) == [taken["id"]]
    assert alice.get(kept["id"]).json["attachedTo"]["href"] == m["id"]
    domain = libvirt_conn.lookupByName(naming.machine_name(m["id"].rsplit("/", 1)[-1]))
    volumes = [path for path in etree.fromstring(domain.XMLDesc(0)).xpath("//disk/source/@file")
               if "cimi-volume-" in path]
    key = store.get("Volume", kept["id"].rsplit("/", 1)[-1])["data"]["_key"]
    assert len(volumes) == 1 and volumes[0].endswith(key.rsplit("/", 1)[-1])   # the hypervisor holds it again


def test_purge_is_a_job_that_removes_the_data(alice, retained, libvirt_conn):
    pool = _pool_paths(libvirt_conn)
    m = machine(alice)
    v = volume(alice)
    for resource in (m, v):
        delete(alice, resource["id"])
    assert _pool_paths(libvirt_conn) > pool
    for entry in entries(alice):
        job = alice.get(operate(alice, entry, "purge").headers["CIMI-Job-URI"]).json
        assert job["action"] == f"{EXT}:purge" and job["targetResource"]["href"] == entry["id"]
    assert entries(alice) == [] and _pool_paths(libvirt_conn) == pool
    assert alice.get(m["id"]).status_code == 404 and alice.get(v["id"]).status_code == 404


def test_a_volume_comes_back_available_with_its_bytes(alice, retained, libvirt_conn):
    v = volume(alice)
    pool = _pool_paths(libvirt_conn)
    delete(alice, v["id"])
    assert alice.get(v["id"]).status_code == 404
    [entry] = entries(alice)
    assert entry["size"] == 1024 * 1024 and entry["resourceType"] == f"{CIMI}/Volume"
    assert _pool_paths(libvirt_conn) == pool                    # its libvirt volume is kept
    operate(alice, entry, "restore")
    back = alice.get(v["id"]).json
    assert back["state"] == "AVAILABLE" and back["capacity"] == 1024
    assert {k: back[k] for k in ("id", "name", "created")} == {k: v[k] for k in ("id", "name", "created")}
    delete(alice, v["id"])                                     # and may be deleted again


def test_an_image_waits_the_longer_retention_of_its_collection(admin, alice, retained, libvirt_conn):
    image = admin.get(admin.cep()["machineImages"]["href"]).json["machineImages"][0]
    delete(admin, image["id"])
    assert admin.get(image["id"]).status_code == 404
    [entry] = entries(admin)
    quarantined = datetime.datetime.strptime(entry["quarantined"], "%Y-%m-%dT%H:%M:%SZ")
    assert datetime.datetime.strptime(entry["expires"], "%Y-%m-%dT%H:%M:%SZ") - quarantined \
        == datetime.timedelta(days=30)
    operate(admin, entry, "restore")
    assert admin.get(image["id"]).json["state"] == "AVAILABLE"
    machine(alice)                                               # usable again


def test_a_machine_whose_image_is_gone_is_not_restored(admin, alice, retained):
    m = machine(alice)                                      # an overlay of the seeded image
    delete(alice, m["id"])
    [image] = admin.get(admin.cep()["machineImages"]["href"]).json["machineImages"]
    delete(admin, image["id"])
    [entry] = entries(alice)                                # the provider's image is not listed to her
    resp = operate(alice, entry, "restore", status=409)
    assert "MachineImage" in resp.json["message"]
    assert alice.get(entry["id"]).json["state"] == "QUARANTINED" and alice.get(m["id"]).status_code == 404


def test_expired_entries_are_purged_by_the_background_pass(alice, retained, libvirt_conn):
    pool = _pool_paths(libvirt_conn)
    m, v = machine(alice), volume(alice)
    for resource in (m, v):
        delete(alice, resource["id"])
    assert quarantine.expire(retained) == 0                   # not yet
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=8)
    assert quarantine.expire(retained, now=later) == 2
    assert entries(alice) == [] and _pool_paths(libvirt_conn) == pool


def test_an_entry_the_backend_cannot_purge_waits_for_the_next_pass(alice, retained):
    """Its host left the configuration: the others expire, it stays listed and is tried again."""
    from cimi import store
    m, v = machine(alice), volume(alice)
    for resource in (m, v):
        delete(alice, resource["id"])
    row = store.get("QuarantinedResource", m["id"].rsplit("/", 1)[-1])
    store.update("QuarantinedResource", row["id"], {"data": {**row["data"], "_kept": {
        **row["data"]["_kept"], "host": "a-host-no-longer-configured"}}})
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=8)
    assert quarantine.expire(retained, now=later) == 1
    assert [e["resource"]["href"] for e in entries(alice)] == [m["id"]]


# --- accounting, ownership, bad input -----------------------------------------------------

def test_quarantined_resources_count_in_no_collection(alice, retained):
    v = volume(alice)
    delete(alice, v["id"])
    assert alice.get(alice.cep()["volumes"]["href"]).json["count"] == 0


def test_owners_see_and_restore_only_their_entries_admins_all(alice, bob, admin, retained):
    va, vb = volume(alice, "va"), volume(bob, "vb")
    delete(alice, va["id"])
    delete(bob, vb["id"])
    [mine] = entries(alice)
    [theirs] = entries(bob)
    assert mine["owner"] == "alice" and theirs["owner"] == "bob"
    assert {e["id"] for e in entries(admin)} == {mine["id"], theirs["id"]}
    assert bob.get(mine["id"]).status_code == 404
    assert bob.post(mine["id"] + "/restore", {"action": f"{EXT}:restore"}).status_code == 404
    assert bob.post(mine["id"] + "/purge", {"action": f"{EXT}:purge"}).status_code == 404
    assert alice.get(mine["id"]).json["state"] == "QUARANTINED"
    operate(admin, admin.get(theirs["id"]).json, "restore")     # an admin restores anyone's
    assert bob.get(vb["id"]).json["state"] == "AVAILABLE"


@pytest.mark.parametrize("method,suffix,body,status", [
    ("POST", "/restore", {"action": f"{CIMI}/action/purge"}, 400),      # the body names another operation
    ("POST", "/start", {"action": f"{CIMI}/action/start"}, 404),        # no such operation
    ("DELETE", "", None, 409),                                          # purge is the way, as for a Disk
    ("PUT", "", {"name": "x"}, 405),
])
def test_bad_requests_on_an_entry_change_nothing(alice, retained, method, suffix, body, status):
    v = volume(alice)
    delete(alice, v["id"])
    [entry] = entries(alice)
    assert alice.request(method, entry["id"] + suffix, body).status_code == status
    assert entries(alice) == [entry] and alice.get(v["id"]).status_code == 404


def test_an_entry_is_not_created_by_a_post(alice, retained):
    assert alice.post(alice.cep()["quarantinedResources"]["href"], {"name": "x"}).status_code == 405


def test_a_restore_over_a_busy_entry_is_a_conflict(alice, retained):
    v = volume(alice)
    delete(alice, v["id"])
    [entry] = entries(alice)
    from cimi import store
    store.set_state("QuarantinedResource", entry["id"].rsplit("/", 1)[-1], "PURGING")
    assert alice.post(entry["id"] + "/restore", {"action": f"{EXT}:restore"}).status_code == 409
    assert alice.get(v["id"]).status_code == 404


# --- the collection: query language, XML ----------------------------------------------------

def test_entries_are_queried_with_the_filter_language(alice, retained):
    m, v = machine(alice), volume(alice)
    for resource in (m, v):
        delete(alice, resource["id"])
    found = entries(alice, f"?$filter=resourceType='{CIMI}/Volume'")
    assert [e["resource"]["href"] for e in found] == [v["id"]]
    assert [e["name"] for e in entries(alice, "?$filter=name='m1'")] == ["m1"]
    assert [e["name"] for e in entries(alice, "?$orderby=name:desc")] == ["v1", "m1"]
    ordered = entries(alice, "?$orderby=expires:desc")
    assert [e["expires"] for e in ordered] == sorted((e["expires"] for e in ordered), reverse=True)
    assert entries(alice, "?$filter=size>0&$select=name,size")[0].keys() == {"resourceURI", "name", "size"}


def test_entries_in_xml(alice, retained, xsd):  # noqa: F811
    v = volume(alice)
    delete(alice, v["id"])
    doc = check(xsd, alice.get(alice.cep()["quarantinedResources"]["href"], accept=XML), "Collection")
    [item] = [c for c in doc if etree.QName(c).namespace == EXT]
    assert etree.QName(item).localname == "QuarantinedResource"
    entry = etree.fromstring(alice.get(entries(alice)[0]["id"], accept=XML).content)
    assert etree.QName(entry).namespace == EXT
    assert entry.find(f"{{{CIMI}}}owner").text == "alice"
    assert {op.get("rel") for op in entry.findall(f"{{{CIMI}}}operation")} == {f"{EXT}:restore", f"{EXT}:purge"}
    body = f'<Action xmlns="{CIMI}"><action>{EXT}:restore</action></Action>'
    resp = alice.post(entries(alice)[0]["id"] + "/restore", body, fmt="xml", accept=XML)
    assert resp.status_code == 202, resp.text
    assert alice.wait(resp.headers["CIMI-Job-URI"])["state"] == "SUCCESS"
    assert alice.get(v["id"]).json["state"] == "AVAILABLE"


# --- the server option ------------------------------------------------------------------------

def test_the_server_takes_a_retention_per_collection(monkeypatch):
    import argparse

    from cimi.server import _options, config_from

    def parsed(*argv):
        parser = argparse.ArgumentParser()
        _options(parser)
        return config_from(parser.parse_args(list(argv))).quarantine_retention
    assert parsed() == {}
    assert parsed("--quarantine-retention", "machines=7d,volumes=12h,machineImages=90") == {
        "machines": 7 * DAY, "volumes": 12 * 3600, "machineImages": 90}
    monkeypatch.setenv("CIMI_QUARANTINE_RETENTION", "volumes=1d")
    assert parsed() == {"volumes": DAY}


@pytest.mark.parametrize("text", ["machines", "machines=7w", "networks=1d", "volumes=-1d"])
def test_a_bad_retention_stops_the_server_with_a_message(text, capsys):
    import argparse

    from cimi.server import _options
    parser = argparse.ArgumentParser()
    _options(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--quarantine-retention", text])
    assert "COLLECTION=N" in capsys.readouterr().err


# --- the store side on SQLite and PostgreSQL ------------------------------------------------

@pytest.fixture
def on_database(database_url, tmp_path, monkeypatch):  # noqa: F811
    """A retaining cloud on each database (SQLite, PostgreSQL); yield (cloud, alice, bob)."""
    monkeypatch.setenv("CIMI_ADMIN_PASSWORD", "admin-pw")
    cloud = Cloud(Config(data_dir=str(tmp_path / "var"), database=database_url, workers=2, lease_poll=0,
                         libvirt_uris=[f"test://{TEST_NODE}"],
                         quarantine_retention={"machines": DAY, "volumes": DAY, "machineImages": DAY}))
    auth.add_user("alice", "alice-pw")
    auth.add_user("bob", "bob-pw")
    app = testing.TestClient(create_app(cloud))
    yield cloud, Client(app, "alice", "alice-pw"), Client(app, "bob", "bob-pw")
    cloud.close()


def test_quarantine_round_trip_on_each_database(on_database):
    cloud, alice, bob = on_database
    m, v, w = machine(alice), volume(alice), volume(bob, "w")
    for client, resource in ((alice, m), (alice, v), (bob, w)):
        delete(client, resource["id"])
    assert [e["name"] for e in entries(alice, "?$orderby=name")] == ["m1", "v1"]
    assert [e["name"] for e in entries(alice, f"?$filter=resourceType='{CIMI}/Machine'")] == ["m1"]
    assert [e["name"] for e in entries(bob)] == ["w"]
    by_name = {e["name"]: e for e in entries(alice)}
    operate(alice, by_name["m1"], "restore")
    assert alice.get(m["id"]).json["state"] == "STOPPED"
    operate(alice, by_name["v1"], "purge")
    assert entries(alice) == [] and alice.get(v["id"]).status_code == 404
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)
    assert quarantine.expire(cloud, now=later) == 1
    assert entries(bob) == []


def test_resource_metadata_describes_entries_and_their_extension_operations(alice):
    metadata = alice.get(alice.cep()["resourceMetadata"]["href"]).json["resourceMetadata"]
    [meta] = [m for m in metadata if m["typeUri"] == f"{CIMI}/QuarantinedResource"]
    assert {"resourceType", "resource", "owner", "size", "quarantined", "expires"} <= {
        a["name"] for a in meta["attributes"]}
    assert {(a["name"], a["uri"]) for a in meta["actions"]} == {("restore", f"{EXT}:restore"),
                                                                ("purge", f"{EXT}:purge")}



def test_an_admin_sets_a_user_s_retention_through_their_quota(admin, alice, bob, cloud):
    """Per user: alice's Quota keeps her Volumes a day; bob, with no retention anywhere, loses his at once."""
    resp = admin.post(admin.cep()["quotas"]["href"], {"user": "alice", "quarantineRetention": {"volumes": DAY}})
    assert resp.status_code == 201, resp.text
    kept, lost = volume(alice, "kept"), volume(bob, "lost")
    delete(alice, kept["id"])
    assert bob.delete(lost["id"]).status_code in (200, 202)
    assert alice.get(kept["id"]).status_code == 404
    [entry] = entries(alice)
    assert entry["resource"]["href"] == kept["id"] and entry["name"] == "kept"
    expires = datetime.datetime.fromisoformat(entry["expires"].replace("Z", "+00:00"))
    quarantined = datetime.datetime.fromisoformat(entry["quarantined"].replace("Z", "+00:00"))
    assert (expires - quarantined).total_seconds() == DAY
    assert entries(bob) == []


def test_a_quarantined_volume_no_longer_counts_in_its_owner_s_usage(retained, admin, alice):
    assert admin.post(admin.cep()["quotas"]["href"], {"user": "alice", "volumes": 5}).status_code == 201

    def used():
        [quota] = alice.get(alice.cep()["quotas"]["href"] + "?$filter=user='alice'").json["quotas"]
        return quota["usage"]["volumes"], quota["usage"]["volumeCapacity"]

    v = volume(alice)
    assert used() == (1, 1024)
    delete(alice, v["id"])
    assert [e["resource"]["href"] for e in entries(alice)] == [v["id"]]
    assert used() == (0, 0)
