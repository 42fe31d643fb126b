"""A Network with running Machines on it: stop is refused unless forced, and NICs say whether they are plugged in."""
import random
import uuid

import pytest

from backends.libvirt import designer, xml
from tests.api.test_machine_errors import real_cloud  # noqa: F401 (a fixture)
from tests.api.test_resources import finish
from tests.conftest import machine_body

CIMI = "http://schemas.dmtf.org/cimi/1"


def network_with_a_running_machine(client):
    _, network = client.create("networks", {
        "resourceURI": f"{CIMI}/NetworkCreate", "name": "lan",
        "networkTemplate": {"networkConfig": {"networkType": "PRIVATE", "cidr": "10.151.12.0/24"}}})
    body = machine_body(client)
    body["machineTemplate"]["networkInterfaces"] = [{"network": {"href": network["id"]}}]
    _, machine = client.create("machines", body)
    return network, machine


def stop(client, network, **params):
    op = [o["href"] for o in network["operations"] if o["rel"] == f"{CIMI}/action/stop"][0]
    return client.post(op, {"resourceURI": f"{CIMI}/Action", "action": f"{CIMI}/action/stop", **params})


def nic_state(client, machine):
    return client.get(machine["networkInterfaces"]["href"]).json["machineNetworkInterfaces"][0]["state"]


def test_stopping_a_network_under_running_machines_is_409_naming_them(alice):
    network, machine = network_with_a_running_machine(alice)
    refused = stop(alice, network)
    assert refused.status_code == 409 and machine["id"].rsplit("/", 1)[-1] in refused.json["message"]
    assert alice.get(network["id"]).json["state"] == "STARTED"
    assert nic_state(alice, machine) == "ACTIVE"


def port_states(client):
    return [p["state"] for p in client.get(client.cep()["networkPorts"]["href"]).json["networkPorts"]]


def test_a_forced_stop_shows_the_nics_disabled_and_a_start_active_again(alice):
    network, machine = network_with_a_running_machine(alice)
    finish(alice, stop(alice, network, force=True))
    assert alice.get(network["id"]).json["state"] == "STOPPED"
    assert nic_state(alice, machine) == "DISABLED" and port_states(alice) == ["STOPPED"]
    alice.act(alice.get(network["id"]).json, "start")
    assert nic_state(alice, machine) == "ACTIVE" and port_states(alice) == ["STARTED"]


def test_a_network_under_stopped_machines_stops(alice):
    network, machine = network_with_a_running_machine(alice)
    alice.act(machine, "stop", {"resourceURI": f"{CIMI}/Action", "action": f"{CIMI}/action/stop", "force": True})
    finish(alice, stop(alice, network))
    assert alice.get(network["id"]).json["state"] == "STOPPED"


@pytest.mark.libvirtd
def test_a_range_the_host_already_routes_fails_the_create_with_409_and_leaves_nothing(real_cloud):  # noqa: F811
    make, observer, _pool = real_cloud
    _cloud, alice = make("qemu")
    cidr = f"10.{random.randint(1, 250)}.{random.randint(1, 250)}.0/24"
    outside = observer.networkDefineXML(designer.network(f"walk-{uuid.uuid4().hex[:8]}", "nat", cidr).to_xml())
    try:
        outside.create()
        resp = alice.post(alice.cep()["networks"]["href"], {"networkTemplate": {"networkConfig": {
            "networkType": "PRIVATE", "cidr": cidr}}})
        assert resp.status_code == 202, resp.text
        job = alice.wait(resp.headers["CIMI-Job-URI"], timeout=30)
        assert job["state"] == "FAILED" and job["returnCode"] == 409, job
        assert job["statusMessage"].startswith("the host already routes this range: "), job
        assert alice.get(resp.headers["Location"]).status_code == 404          # no Network row left
        left = [n.name() for n in observer.listAllNetworks()
                if n.name() != outside.name() and designer.network_cidr(xml.Network.parse(n.XMLDesc(0))) == cidr]
        assert left == []                                                      # nor a libvirt network
    finally:
        outside.destroy()
        outside.undefine()
