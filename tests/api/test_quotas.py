"""Quotas (issue 15): set by administrators, read by their user, checked before a Job is accepted.

On SQLite and on a real PostgreSQL (the `database_url` fixture of test_store).
A refused request is a 403 naming the quota, the usage and the request, and
leaves nothing; 20 concurrent creates over real HTTP never overshoot.
"""
import base64
import http.client
import json
import threading

import pytest
from falcon import testing
from lxml import etree

from cimi import auth
from cimi.http.app import create_app
from cimi.vocabulary import EXTENSION_NS
from tests.api.test_concurrency import server  # noqa: F401 (fixture: waitress on loopback, over our cloud)
from tests.api.test_store import database_url, make_cloud  # noqa: F401 (fixture)
from tests.api.test_xml_schema import XSD, check
from tests.conftest import XML, Client, machine_body

CIMI = "http://schemas.dmtf.org/cimi/1"
GIB = 1024 * 1024                     # KiB


@pytest.fixture
def cloud(tmp_path, database_url, monkeypatch):  # noqa: F811
    c = make_cloud(tmp_path, database_url, monkeypatch, workers=2)
    auth.add_user("alice", "alice-pw")
    auth.add_user("bob", "bob-pw")
    yield c
    c.close()


@pytest.fixture
def clients(cloud):
    tc = testing.TestClient(create_app(cloud))
    return {name: Client(tc, name, name + "-pw") for name in ("admin", "alice", "bob")}


def volume_body(capacity=GIB, name="v"):
    return {"resourceURI": f"{CIMI}/VolumeCreate", "name": name,
            "volumeTemplate": {"volumeConfig": {"capacity": capacity}}}


def set_quota(admin, **quota):
    resp = admin.post(admin.cep()["quotas"]["href"], quota)
    assert resp.status_code == 201, resp.text
    return resp.json


def count(client, key):
    return client.get(client.cep()[key]["href"]).json["count"]


# --- the resource: ownership, query, XML, metadata -----------------------------------------

def test_admin_sets_quotas_users_read_theirs_and_the_default(clients):
    admin, alice, bob = clients["admin"], clients["alice"], clients["bob"]
    default = set_quota(admin, machines=3)
    own = set_quota(admin, user="alice", cpu=4, memory=8 * GIB, volumes=2)
    assert own["user"] == "alice" and own["cpu"] == 4
    listed = alice.get(alice.cep()["quotas"]["href"]).json
    assert sorted(q["id"] for q in listed["quotas"]) == sorted([default["id"], own["id"]])
    assert alice.get(own["id"]).json["usage"] == {"cpu": 0, "memory": 0, "volumeCapacity": 0, "machines": 0,
                                                  "volumes": 0, "machineImages": 0}
    assert "operations" not in alice.get(own["id"]).json          # read-only to its user
    # bob sees the default only; alice's is not his to read, change or delete
    assert [q["id"] for q in bob.get(bob.cep()["quotas"]["href"]).json["quotas"]] == [default["id"]]
    assert bob.get(own["id"]).status_code == 404
    assert bob.put(own["id"], {"cpu": 100}).status_code == 404
    assert bob.delete(own["id"]).status_code == 404
    # users cannot add, edit or delete quotas, their own included
    assert alice.post(alice.cep()["quotas"]["href"], {"user": "alice", "cpu": 100}).status_code == 403
    assert alice.put(own["id"], {"cpu": 100}).status_code == 403
    assert alice.delete(own["id"]).status_code == 403
    assert alice.get(own["id"]).json["cpu"] == 4


def test_one_quota_per_user_and_bad_input_changes_nothing(clients):
    admin = clients["admin"]
    own = set_quota(admin, user="alice", cpu=4)
    href = admin.cep()["quotas"]["href"]
    assert admin.post(href, {"user": "alice", "cpu": 8}).status_code == 409
    for bad in ({"cpu": -1}, {"memory": "lots"}, {"byValue": {"cpu": 0}}, {"quarantineRetention": {"volumes": -5}},
                {"unknown": 1}):
        assert admin.post(href, {"user": "bob", **bad}).status_code == 400, bad
        assert admin.put(own["id"], bad).status_code == 400, bad
    assert count(admin, "quotas") == 1
    # user is set at creation only: an edit cannot move a quota to another user
    edited = admin.put(own["id"], {"user": "bob", "cpu": 6})
    assert edited.status_code == 200 and edited.json["user"] == "alice" and edited.json["cpu"] == 6
    assert clients["bob"].get(own["id"]).status_code == 404


def test_quota_collection_query_and_metadata(clients):
    admin = clients["admin"]
    set_quota(admin, cpu=2)
    set_quota(admin, user="alice", cpu=4)
    set_quota(admin, user="bob", cpu=8)
    href = admin.cep()["quotas"]["href"]
    found = admin.get(href + "?$filter=cpu>=4&$orderby=cpu:desc").json["quotas"]
    assert [q["user"] for q in found] == ["bob", "alice"]
    assert [q["cpu"] for q in admin.get(href + "?$filter=user='alice'").json["quotas"]] == [4]
    metadata = admin.get(admin.cep()["resourceMetadata"]["href"] + "?$filter=name='Quota'").json
    [entry] = metadata["resourceMetadata"]
    assert entry["typeURI"].endswith("Quota")
    assert {"user", "cpu", "byValue", "quarantineRetention", "usage"} <= {a["name"] for a in entry["attributes"]}


def test_quota_xml_validates(clients):
    admin, alice = clients["admin"], clients["alice"]
    xsd = etree.XMLSchema(etree.parse(str(XSD)))
    own = set_quota(admin, user="alice", cpu=4, byValue={"machineConfig": True, "cpu": 2},
                    quarantineRetention={"volumes": 3600})
    cep = check(xsd, alice.get("/cimi/cloudEntryPoint", accept=XML), "CloudEntryPoint")
    assert cep.find(f"{{{EXTENSION_NS}}}quotas") is not None
    coll = check(xsd, alice.get(alice.cep()["quotas"]["href"], accept=XML), "Collection")
    [item] = coll.findall(f"{{{EXTENSION_NS}}}Quota")
    assert item.find(f"{{{CIMI}}}cpu").text == "4"       # an extension type's attributes keep CIMI names
    doc = etree.fromstring(alice.get(own["id"], accept=XML).content)
    assert doc.tag == f"{{{EXTENSION_NS}}}Quota"
    assert doc.find(f"{{{CIMI}}}usage/{{{CIMI}}}cpu").text == "0"
    # an admin edits in XML too
    body = (f'<Quota xmlns="{EXTENSION_NS}"><cpu>5</cpu><byValue><cpu>3</cpu></byValue></Quota>')
    resp = admin.put(own["id"], body, fmt="xml")
    assert resp.status_code == 200, resp.text
    assert (resp.json["cpu"], resp.json["byValue"]) == (5, {"cpu": 3})


# --- checked before a Job is accepted ------------------------------------------------------

def seeded_machine(client, config, **template):
    """A Machine create body with one of the seeded configurations (small, medium, large)."""
    body = machine_body(client, config, **template)
    found = client.get(client.cep()["machineConfigs"]["href"] + f"?$filter=name='{config}'").json
    body["machineTemplate"]["machineConfig"] = {"href": found["machineConfigurations"][0]["id"]}
    return body


def test_beyond_a_quota_is_403_naming_it_and_nothing_is_created(clients, cloud):
    admin, alice = clients["admin"], clients["alice"]
    quota = set_quota(admin, user="alice", cpu=3, volumes=1, volumeCapacity=10 * GIB)
    _, machine = alice.create("machines", seeded_machine(alice, "small"))         # 1 vCPU, a 4 GiB disk
    resp = alice.post(alice.cep()["machines"]["href"], seeded_machine(alice, "large"))      # 4 vCPUs
    assert resp.status_code == 403
    assert "quota cpu of alice: 1 in use + 4 asked > 3" in resp.json["message"]
    assert count(alice, "machines") == 1 and count(alice, "jobs") == 1
    # volumes: the count, then the capacity
    alice.create("volumes", volume_body(GIB))
    resp = alice.post(alice.cep()["volumes"]["href"], volume_body(GIB))
    assert resp.status_code == 403 and "quota volumes of alice: 1 in use + 1 asked > 1" in resp.json["message"]
    admin.put(quota["id"], {"volumes": 10, "volumeCapacity": 10 * GIB, "cpu": 3})
    used = alice.get(quota["id"]).json["usage"]
    assert used["volumes"] == 1 and used["cpu"] == 1 and used["machines"] == 1
    asked = 10 * GIB - used["volumeCapacity"] + 1
    resp = alice.post(alice.cep()["volumes"]["href"], volume_body(asked))
    assert resp.status_code == 403
    assert f"quota volumeCapacity of alice: {used['volumeCapacity']} in use + {asked} asked > {10 * GIB}" \
        in resp.json["message"]
    assert count(alice, "volumes") == 1
    # the volumeTemplates a Machine makes count before its Job
    body = seeded_machine(alice, "small", volumeTemplates=[{"volumeConfig": {"capacity": asked}}])
    resp = alice.post(alice.cep()["machines"]["href"], body)
    assert resp.status_code == 403 and "quota volumeCapacity of alice" in resp.json["message"]
    assert count(alice, "machines") == 1 and count(alice, "volumes") == 1
    # the administrator is not limited
    admin.create("volumes", volume_body(4 * GIB))


def test_the_default_quota_limits_users_without_their_own(clients):
    admin, alice, bob = clients["admin"], clients["alice"], clients["bob"]
    set_quota(admin, machineImages=0, volumes=0)
    set_quota(admin, user="bob", volumes=5)
    resp = alice.post(alice.cep()["volumes"]["href"], volume_body())
    assert resp.status_code == 403 and "quota volumes of alice (the default): 0 in use + 1 asked > 0" \
        in resp.json["message"]
    bob.create("volumes", volume_body())
    # an upload is refused before its bytes are read, and leaves no image
    resp = alice.request("POST", alice.cep()["machineImages"]["href"], b"\0" * 4096,
                         headers={"Content-Type": "application/octet-stream"}, params={"name": "up"})
    assert resp.status_code == 403 and "quota machineImages of alice (the default)" in resp.json["message"]
    assert alice.get(alice.cep()["machineImages"]["href"] + "?$filter=name='up'").json["count"] == 0


def test_usage_shows_the_owners_consumption(clients):
    admin, alice = clients["admin"], clients["alice"]
    default = set_quota(admin, cpu=10)
    assert alice.get(default["id"]).json["usage"]["machines"] == 0
    _, machine = alice.create("machines", machine_body(alice, "m1"))
    alice.create("volumes", volume_body(2 * GIB))
    used = alice.get(default["id"]).json["usage"]       # the default shows its reader's usage
    assert (used["machines"], used["cpu"], used["volumes"]) == (1, machine["cpu"], 1)
    assert used["memory"] == machine["memory"] and used["volumeCapacity"] >= 2 * GIB
    assert clients["bob"].get(default["id"]).json["usage"]["machines"] == 0
    # a capture adds an image: checked like a create
    admin.put(default["id"], {"machineImages": 0})
    resp = alice.post(alice.cep()["machineImages"]["href"], {"name": "cap", "type": "IMAGE",
                                                             "imageLocation": machine["id"]})
    assert resp.status_code == 403 and "quota machineImages of alice (the default): 0 in use + 1 asked > 0" \
        in resp.json["message"]
    assert alice.get(alice.cep()["machineImages"]["href"] + "?$filter=name='cap'").json["count"] == 0


# --- by-value configurations ---------------------------------------------------------------

def by_value_machine(client, cpu, memory):
    body = machine_body(client, "bv")
    body["machineTemplate"]["machineConfig"] = {"cpu": cpu, "memory": memory,
                                                "disks": [{"capacity": GIB, "format": "qcow2"}]}
    return body


def test_by_value_bounds(clients):
    admin, alice = clients["admin"], clients["alice"]
    machines = alice.cep()["machines"]["href"]
    quota = set_quota(admin, byValue={"cpu": 4, "memory": 8 * GIB, "capacity": 10 * GIB})
    resp = alice.post(machines, by_value_machine(alice, 64, 256 * GIB))
    assert resp.status_code == 403 and "bound byValue.cpu of alice: machineConfig by value asks 64 > 4" \
        in resp.json["message"]
    resp = alice.post(machines, by_value_machine(alice, 2, 256 * GIB))
    assert resp.status_code == 403 and "byValue.memory" in resp.json["message"]
    resp = alice.post(alice.cep()["volumes"]["href"], volume_body(11 * GIB))
    assert resp.status_code == 403 and "byValue.capacity" in resp.json["message"]
    assert count(alice, "machines") == 0 and count(alice, "volumes") == 0
    alice.create("machines", by_value_machine(alice, 2, GIB))
    # not allowed at all: only the provider's configurations
    admin.put(quota["id"], {"byValue": {"machineConfig": False, "volumeConfig": False}})
    resp = alice.post(machines, by_value_machine(alice, 1, GIB))
    assert resp.status_code == 403 and "machineConfig by value is not allowed for alice" in resp.json["message"]
    resp = alice.post(alice.cep()["volumes"]["href"], volume_body(GIB))
    assert resp.status_code == 403 and "volumeConfig by value is not allowed" in resp.json["message"]
    alice.create("machines", machine_body(alice, "by-reference"))
    # administrators are not limited
    assert admin.post(machines, by_value_machine(admin, 64, 256 * GIB)).status_code == 202


def test_quarantine_retention_is_read_per_user_then_default(clients, cloud):
    from cimi.ops import quotas
    admin = clients["admin"]
    assert quotas.quarantine_retention("alice", "volumes") is None
    set_quota(admin, quarantineRetention={"volumes": 600, "machines": 60})
    set_quota(admin, user="alice", quarantineRetention={"volumes": 0})
    assert quotas.quarantine_retention("alice", "volumes") == 0
    assert quotas.quarantine_retention("alice", "machines") is None       # her own says nothing: kept for none
    assert quotas.quarantine_retention("bob", "volumes") == 600
    assert quotas.quarantine_retention(None, "machines") == 60


# --- the race -----------------------------------------------------------------------------

def post(port, user, path, body):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    token = base64.b64encode(f"{user}:{user}-pw".encode()).decode()
    conn.request("POST", path, json.dumps(body), {"Authorization": "Basic " + token, "Accept": "application/json",
                                                  "Content-Type": "application/json"})
    resp = conn.getresponse()
    answer = resp.status, json.loads(resp.read() or b"{}")
    conn.close()
    return answer


def test_twenty_concurrent_creates_never_overshoot(clients, server):  # noqa: F811
    admin, alice = clients["admin"], clients["alice"]
    set_quota(admin, user="alice", volumes=5, volumeCapacity=7 * GIB)
    path = "/cimi/volumes"
    barrier = threading.Barrier(20)
    answers = []

    def create(n):
        barrier.wait()
        answers.append(post(server, "alice", path, volume_body(GIB, f"race{n}")))
    threads = [threading.Thread(target=create, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    statuses = sorted(status for status, _ in answers)
    assert len(answers) == 20 and set(statuses) <= {202, 403}, answers
    accepted = [doc for status, doc in answers if status == 202]
    refused = [doc for status, doc in answers if status == 403]
    assert len(accepted) == 5
    assert all("quota volumes of alice: 5 in use + 1 asked > 5" in doc["message"] for doc in refused)
    volumes = alice.get(alice.cep()["volumes"]["href"]).json.get("volumes", [])
    ids = sorted(doc["id"].rsplit("/", 1)[1] for doc in accepted)
    assert sorted(v["id"].rsplit("/", 1)[1] for v in volumes) == ids           # refused ones left nothing
    assert count(alice, "jobs") == 5


def race(port, user, path, body, n=10):
    """POST the same body n times at once; return the sorted statuses."""
    barrier, answers = threading.Barrier(n), []

    def send():
        barrier.wait()
        answers.append(post(port, user, path, body)[0])
    threads = [threading.Thread(target=send) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    return sorted(answers)


def test_concurrent_quotas_for_one_user_make_one(clients, server):  # noqa: F811
    admin = clients["admin"]
    assert race(server, "admin", "/cimi/quotas", {"user": "alice", "cpu": 2}) == [201] + [409] * 9
    assert race(server, "admin", "/cimi/quotas", {"cpu": 2}) == [201] + [409] * 9          # the default
    assert count(admin, "quotas") == 2


def test_a_system_is_checked_before_its_job_and_its_components_in_it(clients):
    admin, alice = clients["admin"], clients["alice"]
    set_quota(admin, user="alice", machines=2)
    template = machine_body(alice)["machineTemplate"]
    body = {"resourceURI": f"{CIMI}/SystemCreate", "name": "s", "systemTemplate": {"componentDescriptors": [
        {"name": "web", "type": f"{CIMI}/Machine", "quantity": 3, "machineTemplate": template}]}}
    resp = alice.post(alice.cep()["systems"]["href"], body)
    assert resp.status_code == 403 and "quota machines of alice: 0 in use + 3 asked > 2" in resp.json["message"]
    assert count(alice, "systems") == 0 and count(alice, "jobs") == 0
    body["systemTemplate"]["componentDescriptors"][0]["quantity"] = 2
    _, system = alice.create("systems", body)
    assert count(alice, "machines") == 2
    # what a Job makes is checked as it makes it: the Job fails naming the quota
    alice.create("volumes", volume_body())
    admin.put(alice.get(alice.cep()["quotas"]["href"]).json["quotas"][0]["id"], {"machines": 3, "volumes": 1})
    body["systemTemplate"]["componentDescriptors"] = [
        {"name": "disk", "type": f"{CIMI}/Volume", "volumeTemplate": volume_body()["volumeTemplate"]}]
    resp = alice.post(alice.cep()["systems"]["href"], body)
    assert resp.status_code == 403 and "quota volumes of alice: 1 in use + 1 asked > 1" in resp.json["message"]


def test_an_import_beyond_the_image_quota_fails_its_job_naming_it_and_leaves_nothing(clients, cloud, tmp_path):
    from tests.api.test_ovf_import import counts, import_op, user_import_dir
    from tests.ovf.conftest import descriptor, make_disk, manifest_line, write_ova
    admin, alice = clients["admin"], clients["alice"]
    set_quota(admin, user="alice", machineImages=0)
    disk = make_disk(tmp_path)
    desc = descriptor(size=len(disk))
    mf = manifest_line("vm.ovf", desc) + manifest_line("disk.vmdk", disk)
    ova = write_ova(user_import_dir(cloud) / "vm.ova", [("vm.ovf", desc), ("vm.mf", mf.encode()), ("disk.vmdk", disk)])
    before = counts(alice)
    resp = alice.post(import_op(alice), {"action": f"{CIMI}/action/import", "source": f"file://{ova}"})
    assert resp.status_code == 202, resp.text
    job = alice.wait(resp.headers["CIMI-Job-URI"])
    assert job["state"] == "FAILED" and job["returnCode"] == 403
    assert "quota machineImages of alice: 0 in use + 1 asked > 0" in job["statusMessage"]
    assert counts(alice) == before
