"""Volumes, Networks, Credentials, templates, Systems, Jobs, ResourceMetadata, updates and queries.

Vectors 32, 33, 40, 43-45, 49-53, 55-56 of cimi-reference 12.
"""
import time

import pytest
from lxml import etree

from tests.conftest import XML, machine_body

CIMI = "http://schemas.dmtf.org/cimi/1"
NS = "{%s}" % CIMI
PUBKEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIResourcesTest alice@laptop"


def rels(resource):
    return {o["rel"] for o in resource.get("operations", [])}


def finish(client, resp):
    assert resp.status_code in (200, 201, 202), resp.text
    if "CIMI-Job-URI" in resp.headers:
        job = client.wait(resp.headers["CIMI-Job-URI"])
        assert job["state"] == "SUCCESS", job.get("statusMessage")
        return job
    return None


def volume(client, name="v1", capacity=1048576):
    body = (f'<VolumeCreate xmlns="{CIMI}"><name>{name}</name><volumeTemplate><volumeConfig>'
            f'<type>{CIMI}/mapped</type><capacity> {capacity} </capacity></volumeConfig></volumeTemplate>'
            f'</VolumeCreate>')
    resp = client.post(client.cep()["volumes"]["href"], body, fmt="xml")
    finish(client, resp)
    return resp, client.get(resp.headers["Location"]).json


# --- Volume (vectors 49-51) ---------------------------------------------------------

def test_volume_create_by_value(alice):
    resp, vol = volume(alice)
    assert resp.status_code in (201, 202) and resp.headers["Location"] == resp.json["id"]
    assert resp.json["state"] in ("CREATING", "AVAILABLE")
    assert vol["state"] == "AVAILABLE" and vol["capacity"] == 1048576 and vol["bootable"] is False
    assert vol["resourceURI"] == f"{CIMI}/Volume" and "delete" in rels(vol)


def test_volume_attach_detach(alice):
    _, machine = alice.create("machines", machine_body(alice))
    _, vol = volume(alice)
    body = f'<MachineVolume xmlns="{CIMI}"><initialLocation>/dev/vdb</initialLocation><volume href="{vol["id"]}"/>' \
           '</MachineVolume>'
    resp = alice.post(machine["volumes"]["href"], body, fmt="xml")
    finish(alice, resp)
    location = resp.headers["Location"]
    assert location.startswith(machine["volumes"]["href"] + "/")
    doc = etree.fromstring(alice.get(location, accept=XML).content)
    assert doc.tag == NS + "MachineVolume"
    assert doc.find(NS + "operation").get("rel") == "delete"
    assert doc.find(NS + "volume").get("href") == vol["id"]
    listing = alice.get(machine["volumes"]["href"]).json
    assert listing["resourceURI"] == f"{CIMI}/MachineVolumeCollection" and listing["count"] == 1
    assert listing["machineVolumes"][0]["volume"]["href"] == vol["id"]
    assert alice.get(vol["id"]).json["state"] == "AVAILABLE"        # IN-USE is not a CIMI state
    assert alice.delete(vol["id"]).status_code == 409             # vector 51
    finish(alice, alice.delete(location))
    assert alice.get(location).status_code == 404
    assert alice.get(machine["volumes"]["href"]).json["count"] == 0
    assert alice.get(vol["id"]).json["state"] == "AVAILABLE"
    finish(alice, alice.delete(vol["id"]))
    assert alice.get(vol["id"]).status_code == 404


def test_volume_cannot_attach_twice(alice):
    _, m1 = alice.create("machines", machine_body(alice, "a"))
    _, m2 = alice.create("machines", machine_body(alice, "b"))
    _, vol = volume(alice)
    finish(alice, alice.post(m1["volumes"]["href"], {"volume": {"href": vol["id"]}}))
    assert alice.post(m2["volumes"]["href"], {"volume": {"href": vol["id"]}}).status_code == 409
    assert alice.get(m2["volumes"]["href"]).json["count"] == 0


def test_machine_created_with_a_volume(alice):
    _, vol = volume(alice)
    _, machine = alice.create("machines", machine_body(alice, volumes=[{"href": vol["id"], "initialLocation": "vdc"}]))
    attached = alice.get(machine["volumes"]["href"]).json
    assert attached["count"] == 1 and attached["machineVolumes"][0]["volume"]["href"] == vol["id"]


def test_machine_delete_detaches_its_volumes(alice):
    _, vol = volume(alice)
    _, machine = alice.create("machines", machine_body(alice, volumes=[{"href": vol["id"]}]))
    finish(alice, alice.delete(machine["id"]))
    assert alice.get(vol["id"]).json["state"] == "AVAILABLE"
    finish(alice, alice.delete(vol["id"]))


# --- Network ----------------------------------------------------------------------------

def test_network_lifecycle(alice):
    resp, net = alice.create("networks", {"resourceURI": f"{CIMI}/NetworkCreate", "name": "n1",
                                          "networkTemplate": {"networkConfig": {"networkType": "PRIVATE"}}})
    assert net["state"] == "STARTED" and net["networkType"] == "PRIVATE"
    assert f"{CIMI}/action/stop" in rels(net) and f"{CIMI}/action/start" not in rels(net)
    net = alice.act(net, "stop")
    assert net["state"] == "STOPPED" and f"{CIMI}/action/start" in rels(net)
    net = alice.act(net, "start")
    assert net["state"] == "STARTED"
    finish(alice, alice.delete(net["id"]))
    assert alice.get(net["id"]).status_code == 404


def test_network_initial_state_stopped(alice):
    _, net = alice.create("networks", {"networkTemplate": {"initialState": "STOPPED", "networkConfig": {
        "networkType": "PUBLIC", "cidr": "192.168.150.0/24"}}})
    assert net["state"] == "STOPPED" and net["networkType"] == "PUBLIC" and net["cidr"] == "192.168.150.0/24"


def test_public_network_without_cidr_is_refused_up_front(alice):
    href = alice.cep()["networks"]["href"]
    before = alice.get(href).json["count"]
    resp = alice.post(href, {"networkTemplate": {"networkConfig": {"networkType": "PUBLIC"}}})
    assert resp.status_code == 400 and "cidr" in resp.json["statusMessage"]
    assert alice.get(href).json["count"] == before


@pytest.mark.parametrize("cidr", ["10.0.0.0/33", "10.9.9.0/31", "0.0.0.0/0", "10.0.0.0/8", "127.0.0.0/24",
                                  "169.254.7.0/24", "224.1.1.0/24", "0.1.2.0/24", "300.1.2.0/24"])
def test_a_range_the_host_cannot_route_is_refused_up_front(alice, cidr):
    href = alice.cep()["networks"]["href"]
    before = alice.get(href).json["count"]
    resp = alice.post(href, {"networkTemplate": {"networkConfig": {"networkType": "PUBLIC", "cidr": cidr}}})
    assert resp.status_code == 400 and "cidr" in resp.json["statusMessage"], resp.text
    assert alice.get(href).json["count"] == before


def test_a_range_another_network_has_is_a_conflict(alice, bob):
    _, mine = alice.create("networks", {"name": "mine", "networkTemplate": {"networkConfig": {
        "networkType": "PUBLIC", "cidr": "192.168.151.0/24"}}})
    href = alice.cep()["networks"]["href"]
    for user, cidr, name in ((alice, "192.168.151.128/25", "mine"), (bob, "192.168.0.0/16", "another user's"),
                             (bob, "192.168.122.0/24", "default")):
        resp = user.post(href, {"networkTemplate": {"networkConfig": {"networkType": "PRIVATE", "cidr": cidr}}})
        assert resp.status_code == 409, resp.text
        assert f"of the Network {name}" in resp.json["statusMessage"] and mine["id"] not in resp.text
    assert alice.get(href).json["count"] == 1 and bob.get(href).json["count"] == 0


def test_machine_on_a_network_gets_an_interface(alice):
    _, net = alice.create("networks", {"networkTemplate": {"networkConfig": {"networkType": "PRIVATE"}}})
    _, machine = alice.create("machines", machine_body(alice, networkInterfaces=[{"network": {"href": net["id"]}}]))
    nics = alice.get(machine["networkInterfaces"]["href"]).json
    assert nics["count"] == 1
    assert nics["machineNetworkInterfaces"][0]["network"]["href"] == net["id"]
    assert alice.delete(net["id"]).status_code == 409


# --- Credential and MachineTemplate ---------------------------------------------------------

def test_credential_with_public_key(alice):
    _, cred = alice.create("credentials", {"resourceURI": f"{CIMI}/CredentialCreate", "name": "key",
                                           "credentialTemplate": {"userName": "alice", "publicKey": PUBKEY}})
    assert cred["publicKey"] == PUBKEY and cred["userName"] == "alice"
    root = etree.fromstring(alice.get(cred["id"], accept=XML).content)
    assert [e.text for e in root.iter() if etree.QName(e).localname == "publicKey"] == [PUBKEY]


def test_credential_with_bad_key_is_400(alice):
    resp = alice.post(alice.cep()["credentials"]["href"], {"credentialTemplate": {"key": "zz-not-hex"}})
    assert resp.status_code == 400


def test_machine_template_by_value_with_credential(alice):
    _, cred = alice.create("credentials", {"credentialTemplate": {"userName": "root", "publicKey": PUBKEY}})
    cep = alice.cep()
    resp = alice.post(cep["machineTemplates"]["href"], {"name": "with-key", **machine_body(alice)["machineTemplate"],
                                                        "credential": {"href": cred["id"]}})
    assert resp.status_code == 201, resp.text
    template = alice.get(resp.headers["Location"]).json
    assert template["credential"] == {"href": cred["id"]}
    expanded = alice.get(template["id"] + "?$expand=credential").json
    assert expanded["credential"]["href"] == cred["id"] and expanded["credential"]["publicKey"] == PUBKEY
    _, machine = alice.create("machines", {"name": "m", "machineTemplate": {"href": template["id"]}})
    assert machine["state"] == "STARTED"
    # and fully by value: the template inline, with the credential inline
    _, machine = alice.create("machines", machine_body(alice, credential={"userName": "root", "publicKey": PUBKEY}))
    assert machine["state"] == "STARTED"


# --- System (vectors 55-56) -------------------------------------------------------------------

def test_system_from_template(alice):
    cep = alice.cep()
    st = alice.post(cep["systemTemplates"]["href"], {"name": "pair", "componentDescriptors": [
        {"name": "web", "type": f"{CIMI}/Machine", "quantity": 2, "machineTemplate": machine_body(alice)["machineTemplate"]}]})
    assert st.status_code == 201, st.text
    body = f'<SystemCreate xmlns="{CIMI}"><name>s1</name><systemTemplate href="{st.json["id"]}"/></SystemCreate>'
    resp = alice.post(cep["systems"]["href"], body, fmt="xml")
    finish(alice, resp)
    system = alice.get(resp.headers["Location"]).json
    assert system["resourceURI"] == f"{CIMI}/System" and system["state"] == "STARTED"
    members = alice.get(system["machines"]["href"]).json
    assert members["count"] == 2 and len(members["systemMachines"]) == 2
    machines = [alice.get(m["machine"]["href"]).json for m in members["systemMachines"]]
    assert sorted(m["name"] for m in machines) == ["web1", "web2"]
    assert all(m["state"] == "STARTED" for m in machines)
    system = alice.act(system, "stop")
    assert system["state"] == "STOPPED"
    assert all(alice.get(m["id"]).json["state"] == "STOPPED" for m in machines)
    system = alice.act(system, "start")
    assert system["state"] == "STARTED"
    alice.act(machines[0], "stop")
    assert alice.get(system["id"]).json["state"] == "MIXED"
    system = alice.act(alice.get(system["id"]).json, "stop")
    assert system["state"] == "STOPPED"
    finish(alice, alice.delete(system["id"]))
    assert alice.get(system["id"]).status_code == 404
    for m in machines:
        assert alice.get(m["id"]).status_code == 404


# --- Jobs -----------------------------------------------------------------------------

def test_job_collection(alice):
    resp, machine = alice.create("machines", machine_body(alice))
    machine = alice.act(machine, "stop")
    jobs = alice.get(alice.cep()["jobs"]["href"]).json
    assert jobs["resourceURI"] == f"{CIMI}/JobCollection" and jobs["count"] == len(jobs["jobs"]) >= 2
    stop = [j for j in jobs["jobs"] if j["action"] == f"{CIMI}/action/stop"]
    assert stop, [j["action"] for j in jobs["jobs"]]
    job = stop[0]
    assert job["targetResource"]["href"] == machine["id"]                   # vector 29
    assert {"href": machine["id"]} in job["affectedResources"]
    assert job["state"] == "SUCCESS" and job["progress"] == 100 and job["timeOfStatusChange"]
    assert "add" not in rels(jobs)
    adds = alice.get(alice.cep()["jobs"]["href"] + "?$filter=action='add'").json
    assert adds["count"] >= 1 and all(j["action"] == "add" for j in adds["jobs"])


# --- ResourceMetadata (vectors 52-53) ------------------------------------------------------

def test_resource_metadata_collection(alice):
    href = alice.cep()["resourceMetadata"]["href"]
    coll = alice.get(href).json
    assert coll["resourceURI"] == f"{CIMI}/ResourceMetadataCollection" and coll["id"] == href
    assert coll["count"] == len(coll["resourceMetadata"])
    assert all(e["id"] for e in coll["resourceMetadata"])
    machine = [e for e in coll["resourceMetadata"] if e.get("typeUri") == f"{CIMI}/Machine"]
    assert len(machine) == 1
    entry = machine[0]
    assert entry["name"] == "Machine" and entry["typeURI"] == f"{CIMI}/Machine"
    assert entry["id"].startswith(href) and "machine" in entry["id"][len(href):]
    assert entry.get("capabilities") or entry.get("attributes") or entry.get("actions")


def test_resource_metadata_machine_entry(alice):
    href = alice.cep()["resourceMetadata"]["href"]
    entry = [e for e in alice.get(href).json["resourceMetadata"] if e["name"] == "Machine"][0]
    rmd = alice.get(entry["id"]).json
    assert rmd["capabilities"]
    for cap in rmd["capabilities"]:
        assert all(cap.get(k) not in (None, "") for k in ("name", "uri", "description", "value")), cap
        assert cap["uri"] == f"{CIMI}/capability/Machine/{cap['name']}"
    for attr in rmd.get("attributes", []):
        assert all(k in attr and attr[k] is not None for k in ("name", "namespace", "type", "required")), attr
    for action in rmd.get("actions", []):
        assert all(action.get(k) for k in ("name", "uri", "description", "method", "inputMessage", "outputMessage"))
    caps = {c["name"]: c["value"] for c in rmd["capabilities"]}
    default = caps["DefaultInitialState"]
    assert "," not in default and default in ("STARTED", "STOPPED")
    initial = caps["InitialStates"].split(",")
    assert default in initial
    assert caps.get("UserData", "metadata") in ("metadata", "disk", "imgmod")
    _, machine = alice.create("machines", machine_body(alice))                # vector 54
    assert machine["state"] == default.upper()


def test_resource_metadata_xml_capabilities(alice):
    href = alice.cep()["resourceMetadata"]["href"]
    entry = [e for e in alice.get(href).json["resourceMetadata"] if e["name"] == "Machine"][0]
    root = etree.fromstring(alice.get(entry["id"], accept=XML).content)
    caps = root.findall(NS + "capability")
    assert caps and all(c.get("uri") and c.get("name") for c in caps)
    default = [c for c in caps if c.get("name") == "DefaultInitialState"][0]
    # DSP8009 gives <capability> element-only content, so the value may be a <value> child instead of text
    value = (default.text or "").strip() or (default.findtext(NS + "value") or "").strip()
    assert value in ("STARTED", "STOPPED")


# --- PUT: partial update, immutables (vectors 43-45) --------------------------------------------

def test_put_with_select_removes_an_unlisted_attribute(alice):
    """Vector 43: listed but absent from the body means removed; others untouched."""
    _, machine = alice.create("machines", machine_body(alice, "keep"))
    assert alice.put(machine["id"], {"name": "keep", "description": "to be erased"}).status_code == 200
    resp = alice.put(machine["id"] + "?$select=description", {"resourceURI": f"{CIMI}/Machine"})
    assert resp.status_code == 200, resp.text
    after = alice.get(machine["id"]).json
    assert "description" not in after and after["name"] == "keep" and after["state"] == "STARTED"


def test_put_with_select_refuses_unlisted_attributes(alice):
    """Vector 44."""
    _, machine = alice.create("machines", machine_body(alice, "orig"))
    resp = alice.put(machine["id"] + "?$select=name", {"name": "x", "description": "y"})
    assert resp.status_code == 400
    assert alice.get(machine["id"]).json["name"] == "orig"


def test_put_with_select_changes_only_listed(alice):
    _, machine = alice.create("machines", machine_body(alice, "orig"))
    assert alice.put(machine["id"], {"name": "orig", "description": "d", "properties": {"a": "1"}}).status_code == 200
    resp = alice.put(machine["id"] + "?$select=properties", {"properties": {"b": "2"}})
    assert resp.status_code == 200, resp.text
    after = alice.get(machine["id"]).json
    assert after["properties"] == {"b": "2"} and after["description"] == "d" and after["name"] == "orig"


def test_full_put_erases_omitted_writable_attributes(alice):
    _, machine = alice.create("machines", machine_body(alice, "n"))
    assert alice.put(machine["id"], {"name": "n", "description": "d", "properties": {"a": "1"}}).status_code == 200
    assert alice.put(machine["id"], {"name": "n2"}).status_code == 200
    after = alice.get(machine["id"]).json
    assert after["name"] == "n2" and "description" not in after and "properties" not in after


def test_put_ignores_immutable_attributes(alice):
    """Vector 45: a different `created` (and id, state, cpu) is silently ignored."""
    _, machine = alice.create("machines", machine_body(alice, "m"))
    full = alice.get(machine["id"]).json
    changed = {**full, "created": "2001-01-01T00:00:00Z", "state": "STOPPED", "cpu": 64, "description": "new"}
    resp = alice.put(machine["id"], changed)
    assert resp.status_code == 200, resp.text
    after = alice.get(machine["id"]).json
    assert after["created"] == full["created"] and after["state"] == "STARTED" and after["cpu"] == full["cpu"]
    assert after["description"] == "new" and after["id"] == full["id"]


def test_put_bumps_updated_but_actions_do_not(alice):
    _, machine = alice.create("machines", machine_body(alice, "m"))
    time.sleep(1.1)
    stopped = alice.act(machine, "stop")
    assert stopped["updated"] == machine["updated"]
    time.sleep(1.1)
    assert alice.put(machine["id"], {"name": "m2"}).status_code == 200
    assert alice.get(machine["id"]).json["updated"] > machine["updated"]


# --- ETags -----------------------------------------------------------------------------------

def test_etag_and_if_none_match(alice):
    _, machine = alice.create("machines", machine_body(alice))
    first = alice.get(machine["id"])
    tag = first.headers["ETag"]
    assert alice.get(machine["id"]).headers["ETag"] == tag
    not_modified = alice.get(machine["id"], headers={"If-None-Match": tag})
    assert not_modified.status_code == 304 and not not_modified.content
    assert alice.get(machine["id"], headers={"If-None-Match": f'{tag}, W/"other"'}).status_code == 304
    assert alice.get(machine["id"], headers={"If-None-Match": "*"}).status_code == 304
    assert alice.put(machine["id"], {"name": "changed"}).status_code == 200
    fresh = alice.get(machine["id"], headers={"If-None-Match": tag})
    assert fresh.status_code == 200 and fresh.json["name"] == "changed" and fresh.headers["ETag"] != tag


def test_etag_changes_with_state(alice):
    _, machine = alice.create("machines", machine_body(alice))
    tag = alice.get(machine["id"]).headers["ETag"]
    alice.act(machine, "stop")
    resp = alice.get(machine["id"], headers={"If-None-Match": tag})
    assert resp.status_code == 200 and resp.json["state"] == "STOPPED"


def test_if_none_match_does_not_cross_formats(alice):
    """A JSON and an XML representation are different bodies: a 304 must not hand XML a JSON validator's answer."""
    _, machine = alice.create("machines", machine_body(alice))
    json_tag = alice.get(machine["id"]).headers["ETag"]
    xml_tag = alice.get(machine["id"], accept=XML).headers["ETag"]
    assert json_tag != xml_tag or json_tag.startswith("W/")


# --- $select / $first / $last (vectors 32, 33, 40) ---------------------------------------

@pytest.fixture
def five(alice):
    return [alice.create("machines", machine_body(alice, f"m{i}", initialState="STOPPED"))[1] for i in range(5)]


def test_select_on_a_resource(alice, five):
    """Vector 32."""
    doc = alice.get(five[0]["id"] + "?$select=name,state").json
    assert set(doc) == {"resourceURI", "name", "state"}


def test_select_on_a_collection_in_xml(alice, five):
    """Vector 33."""
    root = etree.fromstring(alice.get(alice.cep()["machines"]["href"] + "?$select=name", accept=XML).content)
    assert root.findtext(NS + "id") and root.findtext(NS + "count") == "5"
    items = root.findall(NS + "Machine")
    assert len(items) == 5
    for item in items:
        assert [etree.QName(c).localname for c in item] == ["name"]


def test_select_repeated_and_unknown_names(alice, five):
    doc = alice.get(alice.cep()["machines"]["href"] + "?$select=name&$select=cpu,nonsense").json
    assert all(set(m) == {"resourceURI", "name", "cpu"} for m in doc["machines"])


@pytest.mark.parametrize("query,expected", [
    ("$first=2&$last=3", [2, 3]), ("$first=4", [4, 5]), ("$last=2", [1, 2]), ("$first=4&$last=2", []),
    ("$first=10", []), ("$first=1&$last=100", [1, 2, 3, 4, 5]), ("$first=0&$last=1", [1]),
])
def test_first_last(alice, five, query, expected):
    """Vector 40: 1-based, inclusive, clipped; count is the size before paging."""
    href = alice.cep()["machines"]["href"]
    everything = [m["id"] for m in alice.get(href + "?$orderby=name").json["machines"]]
    resp = alice.get(f"{href}?$orderby=name&{query}")
    assert resp.status_code == 200
    doc = resp.json
    assert doc["count"] == 5
    assert [m["id"] for m in doc.get("machines", [])] == [everything[i - 1] for i in expected]
    if not expected:
        assert "machines" not in doc


def test_count_is_before_paging_but_after_filter(alice, five):
    href = alice.cep()["machines"]["href"]
    doc = alice.get(href + "?$filter=name!='m0'&$first=1&$last=2").json
    assert doc["count"] == 4 and len(doc["machines"]) == 2
    doc = alice.get(href + "?$filter=name='m0'").json
    assert doc["count"] == 1 and doc["machines"][0]["name"] == "m0"


def test_first_last_in_xml(alice, five):
    root = etree.fromstring(alice.get(alice.cep()["machines"]["href"] + "?$first=2&$last=3", accept=XML).content)
    assert root.findtext(NS + "count") == "5" and len(root.findall(NS + "Machine")) == 2


@pytest.mark.parametrize("query", ["$first=abc", "$last=-1", "$first="])
def test_bad_paging_values_fall_back(alice, five, query):
    resp = alice.get(alice.cep()["machines"]["href"] + "?" + query)
    assert resp.status_code in (200, 400)
    if resp.status_code == 200:
        assert resp.json["count"] == 5
