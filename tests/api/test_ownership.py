"""Who sees and changes what: plain users own their resources, the provider owns configurations.

A plain user reads only their own resources plus provider-owned ones, in
collections, in $expand, in Jobs and by id; another user's id answers 404
(never 403, which would confirm it exists). The administrator sees all.
Passwords are accepted and never shown to anyone.
"""
import json
import re

import pytest

from tests.conftest import XML, machine_body

CIMI = "http://schemas.dmtf.org/cimi/1"
PASSWORD = "Tr0ub4dor&3-never-shown"


def build(client, who):
    """Create one resource of each consumer kind as `who`; return {kind: id} and the Job ids."""
    cep = client.cep()
    ids, jobs = {}, []

    def post(key, body, kind):
        resp = client.post(cep[key]["href"], body)
        assert resp.status_code in (201, 202), resp.text
        if "CIMI-Job-URI" in resp.headers:
            job = client.wait(resp.headers["CIMI-Job-URI"])
            assert job["state"] == "SUCCESS", job.get("statusMessage")
            jobs.append(job["id"])
        ids[kind] = resp.headers["Location"]

    post("credentials", {"resourceURI": f"{CIMI}/CredentialCreate", "name": f"{who}-cred",
                         "credentialTemplate": {"userName": who, "password": PASSWORD}}, "Credential")
    post("machines", machine_body(client, f"{who}-m", credential={"href": ids["Credential"]}), "Machine")
    post("volumes", {"name": f"{who}-v", "volumeTemplate": {"volumeConfig": {"capacity": 1024}}}, "Volume")
    post("networks", {"name": f"{who}-n", "networkTemplate": {"networkConfig": {"networkType": "PRIVATE"}}},
         "Network")
    post("machineTemplates", {"name": f"{who}-t", **machine_body(client)["machineTemplate"],
                              "credential": {"href": ids["Credential"]}}, "MachineTemplate")
    post("volumeConfigs", {"name": f"{who}-vc", "capacity": 2048, "format": "ext4"}, "VolumeConfiguration")
    post("volumeTemplates", {"name": f"{who}-vt", "volumeConfig": {"capacity": 2048}}, "VolumeTemplate")
    post("networkConfigs", {"name": f"{who}-nc", "networkType": "PRIVATE"}, "NetworkConfiguration")
    post("systemTemplates", {"name": f"{who}-st", "componentDescriptors": [
        {"name": f"{who}-sm", "type": f"{CIMI}/Machine", "machineTemplate": {"href": ids["MachineTemplate"]}}]},
        "SystemTemplate")
    post("systems", {"name": f"{who}-s", "systemTemplate": {"href": ids["SystemTemplate"]}}, "System")
    machine = client.get(ids["Machine"]).json
    ids["Disk"] = client.get(machine["disks"]["href"]).json["disks"][0]["id"]
    return ids, jobs


@pytest.fixture
def owned(alice, bob):
    return {"alice": build(alice, "alice"), "bob": build(bob, "bob")}


KEYS = {"Machine": "machines", "Volume": "volumes", "Network": "networks", "Credential": "credentials",
        "MachineTemplate": "machineTemplates", "VolumeConfiguration": "volumeConfigs",
        "VolumeTemplate": "volumeTemplates", "NetworkConfiguration": "networkConfigs",
        "SystemTemplate": "systemTemplates", "System": "systems"}


def listed(client, key, query=""):
    doc = client.get(client.cep()[key]["href"] + query).json
    items = [v for k, v in doc.items() if isinstance(v, list) and k != "operations"]
    return doc["count"], [item.get("id") for item in (items[0] if items else [])]


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_collections_show_only_own_resources(alice, bob, owned, kind):
    for client, me, other in ((alice, "alice", "bob"), (bob, "bob", "alice")):
        count, ids = listed(client, KEYS[kind])
        assert owned[me][0][kind] in ids
        assert owned[other][0][kind] not in ids
        assert count == len(ids)


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_admin_sees_everyones_resources(admin, owned, kind):
    _, ids = listed(admin, KEYS[kind])
    assert {owned["alice"][0][kind], owned["bob"][0][kind]} <= set(ids)


@pytest.mark.parametrize("key,items", [("machineConfigs", "machineConfigurations"), ("machineImages", "machineImages"),
                                       ("resourceMetadata", "resourceMetadata")])
def test_provider_resources_are_shared(alice, bob, admin, owned, key, items):
    seen = [sorted(i["id"] for i in c.get(c.cep()[key]["href"]).json[items]) for c in (alice, bob, admin)]
    assert seen[0] and seen[0] == seen[1] == seen[2]


def test_provider_resources_offer_no_changes_to_users(alice, admin):
    config = alice.get(alice.cep()["machineConfigs"]["href"]).json["machineConfigurations"][0]
    assert not config.get("operations")
    assert alice.put(config["id"], {"name": "mine", "cpu": 1, "memory": 1024}).status_code == 403
    assert alice.delete(config["id"]).status_code == 403
    assert alice.get(config["id"]).json["name"] == config["name"]
    assert {"edit", "delete"} <= {o["rel"] for o in admin.get(config["id"]).json["operations"]}


def test_plain_users_cannot_add_configurations(alice, bob, admin):
    href = alice.cep()["machineConfigs"]["href"]
    before = admin.get(href).json["count"]
    for client in (alice, bob):
        coll = client.get(href).json
        assert "add" not in {o["rel"] for o in coll.get("operations", [])}
        resp = client.post(href, {"name": "big", "cpu": 8, "memory": 8 * 1024 * 1024})
        assert resp.status_code == 403 and resp.json["state"] == "FAILED"
    assert admin.get(href).json["count"] == before
    resp = admin.post(href, {"name": "big", "cpu": 8, "memory": 8 * 1024 * 1024})
    assert resp.status_code == 201, resp.text
    assert resp.json["id"] in [c["id"] for c in alice.get(href).json["machineConfigurations"]]


@pytest.mark.parametrize("kind", sorted(KEYS) + ["Disk"])
def test_another_users_resource_is_404_never_403(alice, bob, owned, kind):
    for client, other in ((bob, "alice"), (alice, "bob")):
        target = owned[other][0][kind]
        for resp in (client.get(target), client.get(target, accept=XML), client.put(target, {"name": "mine"}),
                     client.delete(target), client.get(target + "?$expand=*")):
            assert resp.status_code == 404, (kind, resp.status_code, resp.text)


@pytest.mark.parametrize("member", ["disks", "volumes", "networkInterfaces"])
def test_another_users_subcollections_are_404(alice, bob, owned, member):
    machine = owned["alice"][0]["Machine"]
    assert bob.get(f"{machine}/{member}").status_code == 404
    assert alice.get(f"{machine}/{member}").status_code == 200
    resp = bob.post(f"{machine}/{member}", {"volume": {"href": owned["bob"][0]["Volume"]}})
    assert resp.status_code == 404


@pytest.mark.parametrize("action", ["stop", "restart", "pause", "suspend", "start"])
def test_another_users_machine_cannot_be_acted_on(alice, bob, owned, action):
    machine = owned["alice"][0]["Machine"]
    resp = bob.post(f"{machine}/{action}", {"action": f"{CIMI}/action/{action}"})
    assert resp.status_code == 404
    assert "CIMI-Job-URI" not in resp.headers
    assert alice.get(machine).json["state"] == "STARTED"


def test_another_users_system_cannot_be_stopped(alice, bob, owned):
    system = owned["alice"][0]["System"]
    assert bob.post(f"{system}/stop", {"action": f"{CIMI}/action/stop"}).status_code == 404
    assert alice.get(system).json["state"] == "STARTED"


def test_nothing_changed_after_another_users_attempts(alice, bob, owned):
    before = {k: alice.get(v).json for k, v in owned["alice"][0].items()}
    for target in owned["alice"][0].values():
        bob.put(target, {"name": "pwned"})
        bob.delete(target)
    after = {k: alice.get(v).json for k, v in owned["alice"][0].items()}
    assert {k: v.get("name") for k, v in after.items()} == {k: v.get("name") for k, v in before.items()}
    assert all(v.get("state") != "DELETING" for v in after.values())


def test_jobs_are_private(alice, bob, admin, owned):
    _, alice_jobs = listed(alice, "jobs")
    _, bob_jobs = listed(bob, "jobs")
    _, all_jobs = listed(admin, "jobs")
    assert set(owned["alice"][1]) <= set(alice_jobs) and not set(owned["alice"][1]) & set(bob_jobs)
    assert set(owned["bob"][1]) <= set(bob_jobs) and not set(owned["bob"][1]) & set(alice_jobs)
    assert set(owned["alice"][1]) | set(owned["bob"][1]) <= set(all_jobs)
    for job in owned["alice"][1]:
        assert bob.get(job).status_code == 404
        assert bob.delete(job).status_code == 404


def test_jobs_never_name_another_users_resources(alice, bob, owned):
    """A Job's targetResource/affectedResources are the owner's; bob's Job list must not leak alice's ids."""
    text = bob.get(bob.cep()["jobs"]["href"] + "?$expand=*").text
    for target in owned["alice"][0].values():
        assert target.rsplit("/", 1)[-1] not in text


@pytest.mark.parametrize("query", ["?$expand=*", "?$expand=", "?$expand=disks,volumes,networkInterfaces",
                                   "?$filter=name='alice-m'", "?$select=name,id"])
def test_queries_do_not_reach_other_users(bob, owned, query):
    count, ids = listed(bob, "machines", query)
    text = bob.get(bob.cep()["machines"]["href"] + query).text
    assert owned["alice"][0]["Machine"] not in text and "alice-m" not in text
    if "filter" in query:
        assert count == 0


def test_template_cannot_reference_another_users_resource(alice, bob, owned):
    """bob names alice's credential in his machine template: refused as if it did not exist."""
    resp = bob.post(bob.cep()["machineTemplates"]["href"], {
        "name": "sneaky", **machine_body(bob)["machineTemplate"], "credential": {"href": owned["alice"][0]["Credential"]}})
    assert resp.status_code in (400, 404), resp.text


def test_cannot_build_on_another_users_resources(alice, bob, owned):
    before = listed(bob, "machines")[0]
    for body in (machine_body(bob, credential={"href": owned["alice"][0]["Credential"]}),
                 machine_body(bob, volumes=[{"href": owned["alice"][0]["Volume"]}]),
                 {"machineTemplate": {"href": owned["alice"][0]["MachineTemplate"]}}):
        resp = bob.post(bob.cep()["machines"]["href"], body)
        assert resp.status_code in (400, 404), resp.text
    resp = bob.post(owned["bob"][0]["Machine"].rsplit("/", 2)[0] + "/machines/" +
                    owned["bob"][0]["Machine"].rsplit("/", 1)[-1] + "/volumes",
                    {"volume": {"href": owned["alice"][0]["Volume"]}})
    assert resp.status_code in (400, 404), resp.text
    assert listed(bob, "machines")[0] == before
    capture = bob.post(bob.cep()["machineImages"]["href"], {"type": "IMAGE", "imageLocation": owned["alice"][0]["Machine"]})
    assert capture.status_code in (400, 404), capture.text


def test_admin_can_act_on_users_resources(alice, admin, owned):
    machine = owned["alice"][0]["Machine"]
    resp = admin.put(machine, {"name": "renamed-by-admin"})
    assert resp.status_code == 200, resp.text
    assert alice.get(machine).json["name"] == "renamed-by-admin"


# --- passwords --------------------------------------------------------------------------

def everything(client, owned):
    """Every document a user can read about the owned resources, in JSON and XML."""
    out = []
    for key, value in client.cep().items():
        if isinstance(value, dict) and "href" in value:
            for query in ("", "?$expand=*", "?$select=password,userName,credential,componentDescriptors"):
                out.append(client.get(value["href"] + query))
                out.append(client.get(value["href"] + query, accept=XML))
    for ids, _ in owned.values():
        for target in ids.values():
            for query in ("", "?$expand=*", "?$select=password"):
                out.append(client.get(target + query))
                out.append(client.get(target + query, accept=XML))
    return out


def test_passwords_never_appear(alice, bob, admin, owned):
    for client in (alice, bob, admin):
        for resp in everything(client, owned):
            assert PASSWORD not in resp.text, resp.text[:500]
            # the attribute may be described (ResourceMetadata), never given a value
            assert not re.search(r'"password"\s*:', resp.text), resp.text[:500]
            assert "<password>" not in resp.text


def test_password_not_echoed_on_create_or_edit(alice):
    cep = alice.cep()
    for fmt in ("json", "xml"):
        accept = XML if fmt == "xml" else "application/json"
        resp = alice.post(cep["credentials"]["href"], {"credentialTemplate": {"userName": "u", "password": PASSWORD}},
                          accept=accept)
        assert resp.status_code in (201, 202) and PASSWORD not in resp.text
        assert not re.search(r'"password"\s*:|<password>', resp.text)
    credential = alice.get(resp.headers["Location"]).json
    edited = alice.put(credential["id"], {"userName": "v", "password": PASSWORD + "2"})
    assert edited.status_code == 200, edited.text
    assert PASSWORD not in edited.text and not re.search(r'"password"\s*:|<password>', edited.text)
    assert alice.get(credential["id"]).json["userName"] == "v"


@pytest.mark.parametrize("where", ["machineTemplate", "systemTemplate"])
def test_password_inside_a_template_by_value_never_appears(alice, where):
    """A credential given by value inside a template is stored for use, but never shown."""
    cep = alice.cep()
    inline = {"userName": "root", "password": PASSWORD}
    if where == "machineTemplate":
        resp = alice.post(cep["machineTemplates"]["href"], {"name": "t", **machine_body(alice)["machineTemplate"],
                                                            "credential": inline})
    else:
        resp = alice.post(cep["systemTemplates"]["href"], {"name": "st", "componentDescriptors": [
            {"name": "c", "type": f"{CIMI}/Credential", "credentialTemplate": inline}]})
    assert resp.status_code == 201, resp.text
    texts = [resp.text, alice.get(resp.headers["Location"]).text, alice.get(resp.headers["Location"], accept=XML).text,
             alice.get(cep[where + "s"]["href"]).text, alice.get(cep[where + "s"]["href"], accept=XML).text]
    for text in texts:
        assert PASSWORD not in text, text[:800]


def test_password_of_a_system_credential_never_appears(alice):
    cep = alice.cep()
    st = alice.post(cep["systemTemplates"]["href"], {"name": "st", "componentDescriptors": [
        {"name": "c", "type": f"{CIMI}/Credential", "credentialTemplate": {"userName": "r", "password": PASSWORD}}]})
    assert st.status_code == 201, st.text
    _, system = alice.create("systems", {"name": "s", "systemTemplate": {"href": st.json["id"]}})
    for href in (system["id"] + "?$expand=*", system["credentials"]["href"] + "?$expand=*",
                 cep["credentials"]["href"]):
        for accept in ("application/json", XML):
            assert PASSWORD not in alice.get(href, accept=accept).text
    assert json.dumps(alice.get(cep["credentials"]["href"]).json).count('"userName": "r"') == 1
