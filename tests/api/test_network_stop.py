"""A Network with running Machines on it: stop is refused unless forced, and NICs say whether they are plugged in."""
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
