"""Every XML document the server emits validates against DSP8009 1.0.2 (the CIMI 1.x XSD).

Resources are created through the API in JSON, then read back with
`Accept: application/xml`; each answer is parsed and validated with lxml.
The XSD is the DMTF file minus its unused `xs:import` of the W3C xml.xsd
(see tests/data/cimi/README.md).
"""
from pathlib import Path

import pytest
from lxml import etree

from cimi import store
from tests.conftest import JSON, XML, machine_body

CIMI = "http://schemas.dmtf.org/cimi/1"
NS = "{%s}" % CIMI
XSD = Path(__file__).resolve().parents[1] / "data" / "cimi" / "dsp8009_1.0.2.xsd"


@pytest.fixture(scope="session")
def xsd():
    return etree.XMLSchema(etree.parse(str(XSD)))


def check(xsd, resp, root, status=200):
    """Assert a response is an XML document with this root, valid against the XSD; return its root."""
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].split(";")[0] == XML
    doc = etree.fromstring(resp.content)
    assert doc.tag == NS + root, doc.tag
    assert doc.nsmap.get(None) == CIMI
    if not xsd.validate(doc):
        errors = "\n".join(f"line {e.line}: {e.message}" for e in xsd.error_log)
        raise AssertionError(f"{root} does not validate against DSP8009:\n{errors}\n{resp.text[:3000]}")
    return doc


# --- builders (JSON bodies, as a consumer would send them) ----------------------------

def volume_body(name="v1", capacity=1048576):
    return {"resourceURI": f"{CIMI}/VolumeCreate", "name": name,
            "volumeTemplate": {"volumeConfig": {"type": f"{CIMI}/mapped", "capacity": capacity}}}


def network_body(name="n1"):
    return {"resourceURI": f"{CIMI}/NetworkCreate", "name": name,
            "networkTemplate": {"networkConfig": {"networkType": "PRIVATE"}}}


def credential_body(name="c1"):
    return {"resourceURI": f"{CIMI}/CredentialCreate", "name": name,
            "credentialTemplate": {"userName": "root", "password": "s3cret",
                                   "publicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample alice@x"}}


def system_template_body(client, name="st1", quantity=2):
    template = machine_body(client)["machineTemplate"]
    return {"name": name, "componentDescriptors": [
        {"name": "web", "type": f"{CIMI}/Machine", "quantity": quantity, "machineTemplate": template}]}


def make(client, key, body):
    """POST to a CEP collection, wait for the Job; return (response, resource) with the failure reason on error."""
    resp = client.post(client.cep()[key]["href"], body)
    assert resp.status_code in (201, 202), resp.text
    if resp.status_code == 202:
        job = client.wait(resp.headers["CIMI-Job-URI"])
        assert job["state"] == "SUCCESS", f"{key}: {job.get('statusMessage')}"
    return resp, client.get(resp.headers["Location"]).json


@pytest.fixture
def world(alice):
    """One of each resource kind, owned by alice; returns their ids by type."""
    cep = alice.cep()
    ids = {}
    _, machine = make(alice, "machines", machine_body(alice, "m1"))
    ids["Machine"] = machine["id"]
    ids["Disk"] = alice.get(machine["disks"]["href"]).json["disks"][0]["id"]
    ids["MachineConfiguration"] = alice.get(cep["machineConfigs"]["href"]).json["machineConfigurations"][0]["id"]
    ids["MachineImage"] = alice.get(cep["machineImages"]["href"]).json["machineImages"][0]["id"]
    resp, credential = make(alice, "credentials", credential_body())
    ids["Credential"] = credential["id"]
    template = alice.post(cep["machineTemplates"]["href"], {
        "name": "t1", **machine_body(alice)["machineTemplate"], "credential": {"href": credential["id"]}})
    assert template.status_code == 201, template.text
    ids["MachineTemplate"] = template.json["id"]
    resp, volume = make(alice, "volumes", volume_body())
    ids["Volume"] = volume["id"]
    ids["Job"] = resp.headers["CIMI-Job-URI"]
    vc = alice.post(cep["volumeConfigs"]["href"], {"name": "vc1", "type": f"{CIMI}/mapped", "format": "ext4",
                                                   "capacity": 2048})
    assert vc.status_code == 201, vc.text
    ids["VolumeConfiguration"] = vc.json["id"]
    _, network = make(alice, "networks", network_body())
    ids["Network"] = network["id"]
    st = alice.post(cep["systemTemplates"]["href"], system_template_body(alice))
    assert st.status_code == 201, st.text
    ids["SystemTemplate"] = st.json["id"]
    _, system = make(alice, "systems", {"resourceURI": f"{CIMI}/SystemCreate", "name": "s1",
                                         "systemTemplate": {"href": st.json["id"]}})
    ids["System"] = system["id"]
    return ids


# --- the entry point and every collection ---------------------------------------------

def test_cloud_entry_point_validates(alice, xsd):
    doc = check(xsd, alice.get("/cimi/cloudEntryPoint", accept=XML), "CloudEntryPoint")
    children = [etree.QName(c).localname for c in doc]
    assert children[:2] == ["id", "name"]
    assert "baseURI" in children and "machines" in children
    for child in doc:
        if etree.QName(child).localname not in ("id", "name", "description", "created", "updated", "baseURI"):
            assert list(child.attrib) == ["href"] and len(child) == 0 and not (child.text or "").strip()


def cep_collections(client):
    return sorted((k, v["href"]) for k, v in client.cep().items() if isinstance(v, dict) and "href" in v)


# The CEP keys of DSP8009 this server offers (checked against the live CEP below).
COLLECTIONS = ["resourceMetadata", "systems", "systemTemplates", "machines", "machineTemplates", "machineConfigs",
               "machineImages", "credentials", "volumes", "volumeTemplates", "volumeConfigs", "volumeImages",
               "networks", "networkTemplates", "networkConfigs", "networkPorts", "addresses", "jobs"]


def test_cep_offers_the_collections_under_test(alice):
    assert set(COLLECTIONS) <= {k for k, _ in cep_collections(alice)}


@pytest.mark.parametrize("key", COLLECTIONS)
def test_collection_of_a_fresh_cloud_validates(alice, xsd, key):
    doc = check(xsd, alice.get(alice.cep()[key]["href"], accept=XML), "Collection")
    assert doc.get("resourceURI", "").startswith(CIMI + "/") and doc.get("resourceURI").endswith("Collection")


@pytest.mark.parametrize("key", COLLECTIONS)
def test_collection_with_items_validates(alice, xsd, world, key):
    doc = check(xsd, alice.get(alice.cep()[key]["href"], accept=XML), "Collection")
    count = int(doc.find(NS + "count").text)
    items = [c for c in doc if etree.QName(c).localname not in ("id", "count", "operation")]
    assert len(items) == count


@pytest.mark.parametrize("key", COLLECTIONS)
def test_collection_with_items_validates_for_admin(admin, xsd, world, key):
    check(xsd, admin.get(admin.cep()[key]["href"], accept=XML), "Collection")


def test_world_fills_the_collections(alice, world):
    filled = [k for k in COLLECTIONS if alice.get(alice.cep()[k]["href"]).json["count"] > 0]
    assert len(filled) >= 12, filled


# --- each resource kind --------------------------------------------------------------

KINDS = ["Machine", "Disk", "MachineConfiguration", "MachineImage", "MachineTemplate", "Credential", "Volume",
         "VolumeConfiguration", "Network", "Job", "System", "SystemTemplate"]


@pytest.mark.parametrize("kind", KINDS)
def test_resource_validates(alice, xsd, world, kind):
    doc = check(xsd, alice.get(world[kind], accept=XML), kind)
    assert doc.get("resourceURI") is None       # only <Collection> carries it (cimi-reference 1.3)
    if kind != "Disk":                          # DSP8009's Disk has no common elements
        assert doc.find(NS + "id").text == world[kind]


@pytest.mark.parametrize("kind", ["Machine", "MachineTemplate", "System", "Volume", "Network"])
def test_resource_with_expand_all_validates(alice, xsd, world, kind):
    check(xsd, alice.get(world[kind] + "?$expand=*", accept=XML), kind)


@pytest.mark.parametrize("member", ["disks", "volumes", "networkInterfaces"])
def test_machine_subcollections_validate(alice, xsd, world, member):
    machine = alice.get(world["Machine"]).json
    if member not in machine:
        pytest.skip(f"Machine has no {member}")
    check(xsd, alice.get(machine[member]["href"], accept=XML), "Collection")


def test_disk_collection_and_expand_validate(alice, xsd, world):
    machine = alice.get(world["Machine"]).json
    coll = check(xsd, alice.get(machine["disks"]["href"], accept=XML), "Collection")
    assert coll.get("resourceURI") == f"{CIMI}/DiskCollection"
    assert coll.find(NS + "Disk") is not None
    doc = check(xsd, alice.get(world["Machine"] + "?$expand=disks", accept=XML), "Machine")
    disks = doc.find(NS + "disks")
    assert disks.get("href") == machine["disks"]["href"]
    assert [etree.QName(c).localname for c in disks][:2] == ["id", "count"]
    assert disks.find(NS + "Disk/" + NS + "capacity") is not None


def test_machine_volume_validates(alice, xsd, world):
    machine = alice.get(world["Machine"]).json
    resp = alice.post(machine["volumes"]["href"], {"resourceURI": f"{CIMI}/MachineVolume",
                                                   "initialLocation": "/dev/vdb",
                                                   "volume": {"href": world["Volume"]}})
    assert resp.status_code in (201, 202), resp.text
    if resp.status_code == 202:
        job = alice.wait(resp.headers["CIMI-Job-URI"])
        assert job["state"] == "SUCCESS", job.get("statusMessage")
    check(xsd, alice.get(resp.headers["Location"], accept=XML), "MachineVolume")
    check(xsd, alice.get(machine["volumes"]["href"], accept=XML), "Collection")
    check(xsd, alice.get(world["Machine"] + "?$expand=volumes", accept=XML), "Machine")
    attached = check(xsd, alice.get(world["Volume"], accept=XML), "Volume")      # with its attachedTo extension
    assert b"attachedTo" in etree.tostring(attached)


def test_system_machines_validate(alice, xsd, world):
    system = alice.get(world["System"]).json
    coll = check(xsd, alice.get(system["machines"]["href"], accept=XML), "Collection")
    assert len(coll.findall(NS + "SystemMachine")) == 2
    check(xsd, alice.get(world["System"] + "?$expand=machines", accept=XML), "System")


def test_resource_metadata_validates(alice, xsd):
    href = alice.cep()["resourceMetadata"]["href"]
    coll = check(xsd, alice.get(href, accept=XML), "Collection")
    entries = coll.findall(NS + "ResourceMetadata")
    assert entries
    machine = [e for e in alice.get(href).json["resourceMetadata"] if e["name"] == "Machine"][0]
    doc = check(xsd, alice.get(machine["id"], accept=XML), "ResourceMetadata")
    assert doc.find(NS + "typeURI").text == f"{CIMI}/Machine"
    assert doc.find(NS + "capability") is not None


def test_job_collection_validates(alice, xsd, world):
    coll = check(xsd, alice.get(alice.cep()["jobs"]["href"], accept=XML), "Collection")
    assert coll.findall(NS + "Job")


def test_selected_collection_validates(alice, xsd, world):
    check(xsd, alice.get(alice.cep()["machines"]["href"] + "?$select=name", accept=XML), "Collection")


# --- errors ----------------------------------------------------------------------

@pytest.mark.parametrize("path,status", [
    ("/cimi/machines/does-not-exist", 404),
    ("/cimi/noSuchCollection", 404),
    ("/cimi/machines?$filter=()", 400),
])
def test_error_document_validates(alice, xsd, path, status):
    doc = check(xsd, alice.get(path, accept=XML), "Job", status=status)
    assert doc.find(NS + "state").text == "FAILED"
    assert doc.find(NS + "statusMessage").text


def test_error_on_create_validates(alice, xsd):
    resp = alice.post(alice.cep()["machines"]["href"], "<MachineCreate><bogus/></MachineCreate>", fmt="xml",
                      accept=XML)
    check(xsd, resp, "Job", status=400)


def test_json_and_xml_name_the_same_collections(alice):
    cep = alice.cep()
    doc = etree.fromstring(alice.get("/cimi/cloudEntryPoint", accept=XML).content)
    xml_keys = {etree.QName(c).localname for c in doc if c.get("href")}
    json_keys = {k for k, v in cep.items() if isinstance(v, dict) and "href" in v}
    assert xml_keys == json_keys
    assert alice.get("/cimi/cloudEntryPoint", accept=JSON).headers["Content-Type"].startswith(JSON)


def test_a_nics_addresses_and_the_address_resource_validate(cloud, alice, xsd):
    from cimi.ops.reconcile import reconcile_addresses
    from tests.api.test_addresses import setup_machine
    _network, machine, mac, key, leases = setup_machine(cloud, alice)
    leases.by_key[key] = [(mac, "192.168.150.23", "web1")]
    reconcile_addresses(cloud)
    nic = check(xsd, alice.get(machine["networkInterfaces"]["href"], accept=XML), "Collection")
    address_ref = nic.find(f"{NS}MachineNetworkInterface/{NS}addresses/{NS}MachineNetworkInterfaceAddress/{NS}address")
    listed = alice.get(machine["networkInterfaces"]["href"]).json["machineNetworkInterfaces"][0]["addresses"]
    check(xsd, alice.get(listed["href"], accept=XML), "Collection")
    address = check(xsd, alice.get(address_ref.get("href"), accept=XML), "Address")
    assert address.find(NS + "resource").get("href") == machine["id"]
def test_machine_extensions_validate(alice, xsd, world, cloud):
    """A running Machine's vnc address and its console operation are admitted extensions."""
    store.set_state("Machine", world["Machine"].rsplit("/", 1)[-1], "STARTED", vnc="127.0.0.1:5901")
    doc = check(xsd, alice.get(world["Machine"], accept=XML), "Machine")
    assert doc.findtext("{urn:darn-simple-cloud:cimi}vnc") == "127.0.0.1:5901"
    rels = [op.get("rel") for op in doc.findall(NS + "operation")]
    assert "urn:darn-simple-cloud:cimi:console" in rels
