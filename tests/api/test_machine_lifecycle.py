"""A Machine from creation to deletion, checked in the API and in libvirt itself."""
import libvirt
import pytest

from cimi import naming
from tests.conftest import XML, machine_body

CIMI = "http://schemas.dmtf.org/cimi/1"


@pytest.fixture
def domain_state(libvirt_conn):
    """The libvirt state of a Machine's domain, read from libvirt itself."""
    def state(machine_id):
        return libvirt_conn.lookupByName(naming.machine_name(machine_id.rsplit('/', 1)[-1])).state()[0]
    return state


def rels(resource):
    return {o["rel"] for o in resource["operations"]}


def test_create_from_template_by_reference_reaches_started(alice, domain_state):
    cep = alice.cep()
    template = alice.post(cep["machineTemplates"]["href"], {
        "name": "t", **machine_body(alice)["machineTemplate"]})
    assert template.status_code == 201, template.text
    resp, machine = alice.create("machines", {"name": "web", "machineTemplate": {"href": template.json["id"]}})
    assert resp.headers["Location"] == resp.json["id"]
    assert resp.json["state"] == "CREATING"
    assert machine["state"] == "STARTED" and machine["name"] == "web"
    assert domain_state(machine["id"]) == libvirt.VIR_DOMAIN_RUNNING
    assert {f"{CIMI}/action/stop", f"{CIMI}/action/restart", f"{CIMI}/action/pause", "edit"} <= rels(machine)
    assert f"{CIMI}/action/start" not in rels(machine) and "delete" in rels(machine)


def test_create_job_targets_collection_and_affects_machine(alice):
    resp = alice.post(alice.cep()["machines"]["href"], machine_body(alice))
    job = alice.wait(resp.headers["CIMI-Job-URI"])
    assert job["targetResource"]["href"] == alice.cep()["machines"]["href"]
    assert {"href": resp.headers["Location"]} in job["affectedResources"]
    assert job["action"] == "add" and job["progress"] == 100 and job["returnCode"] == 0


@pytest.mark.parametrize("initial", ["STARTED", "STOPPED"])
def test_initial_states(alice, initial):
    _, machine = alice.create("machines", machine_body(alice, initialState=initial))
    assert machine["state"] == initial


def test_lifecycle_follows_libvirt(alice, domain_state):
    _, machine = alice.create("machines", machine_body(alice))
    machine = alice.act(machine, "pause")
    assert machine["state"] == "PAUSED" and domain_state(machine["id"]) == libvirt.VIR_DOMAIN_PAUSED
    machine = alice.act(machine, "start")
    assert machine["state"] == "STARTED" and domain_state(machine["id"]) == libvirt.VIR_DOMAIN_RUNNING
    machine = alice.act(machine, "stop", {"action": f"{CIMI}/action/stop", "force": True})
    assert machine["state"] == "STOPPED" and domain_state(machine["id"]) == libvirt.VIR_DOMAIN_SHUTOFF
    assert {f"{CIMI}/action/start", f"{CIMI}/action/capture", "delete"} <= rels(machine)
    assert f"{CIMI}/action/stop" not in rels(machine)
    machine = alice.act(machine, "restart")
    assert machine["state"] == "STARTED"
    machine = alice.act(machine, "suspend")
    assert machine["state"] == "SUSPENDED"
    machine = alice.act(machine, "start")
    assert machine["state"] == "STARTED"


def test_xml_action_with_mangled_uri_is_accepted(alice):
    _, machine = alice.create("machines", machine_body(alice))
    stop = [o["href"] for o in machine["operations"] if o["rel"].endswith("/stop")][0]
    body = f'<Action xmlns="{CIMI}"><action> http://http://schemas.dmtf.org/cimi/1/action/stop</action></Action>'
    resp = alice.post(stop, body, fmt="xml")
    assert resp.status_code == 202 and "CIMI-Job-URI" in resp.headers
    assert alice.wait(resp.headers["CIMI-Job-URI"])["state"] == "SUCCESS"


def test_action_not_allowed_in_state_is_409_and_changes_nothing(alice):
    _, machine = alice.create("machines", machine_body(alice))
    resp = alice.post(machine["id"] + "/start", {"action": f"{CIMI}/action/start"})
    assert resp.status_code == 409
    assert resp.json["state"] == "FAILED" and "STARTED" in resp.json["statusMessage"]
    assert alice.get(machine["id"]).json["state"] == "STARTED"


def test_action_body_naming_another_action_is_400(alice):
    _, machine = alice.create("machines", machine_body(alice))
    resp = alice.post(machine["id"] + "/stop", {"action": f"{CIMI}/action/start"})
    assert resp.status_code == 400


def test_delete_removes_domain_and_resource(alice, domain_state):
    _, machine = alice.create("machines", machine_body(alice))
    resp = alice.delete(machine["id"])
    assert resp.status_code == 202
    assert alice.wait(resp.headers["CIMI-Job-URI"])["state"] == "SUCCESS"
    assert alice.get(machine["id"]).status_code == 404
    with pytest.raises(libvirt.libvirtError):
        domain_state(machine["id"])
    assert alice.get(machine["disks"]["href"]).status_code == 404


def test_disks_subcollection(alice):
    _, machine = alice.create("machines", machine_body(alice))
    disks = alice.get(machine["disks"]["href"]).json
    assert disks["resourceURI"] == f"{CIMI}/DiskCollection"
    assert disks["count"] >= 1 and disks["disks"][0]["capacity"] > 0
    expanded = alice.get(machine["id"] + "?$expand=disks", accept=XML)
    assert b"<Disk>" in expanded.content and b"<capacity>" in expanded.content


def test_capture_stopped_machine_to_image(alice):
    _, machine = alice.create("machines", machine_body(alice, initialState="STOPPED"))
    capture = [o["href"] for o in machine["operations"] if o["rel"].endswith("/capture")][0]
    body = f"<MachineImage><name>cap1</name><type> IMAGE </type><imageLocation>{machine['id']}</imageLocation></MachineImage>"
    resp = alice.post(capture, body, fmt="xml")
    assert resp.status_code == 202, resp.text
    assert alice.wait(resp.headers["CIMI-Job-URI"])["state"] == "SUCCESS"
    image = alice.get(resp.headers["Location"]).json
    assert image["state"] == "AVAILABLE" and image["type"] == "IMAGE"
    assert image["imageLocation"] != machine["id"]
    _, clone = alice.create("machines", machine_body(alice, machineImage={"href": image["id"]}))
    assert clone["state"] == "STARTED"
