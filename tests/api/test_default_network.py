"""The default network: a Machine created without networkInterfaces gets one NIC on the cloud's NAT Network."""
import uuid

import pytest
from falcon import testing

from backends import model
from cimi import auth
from cimi.http.app import create_app
from cimi.cloud import Cloud, Config
from tests.conftest import TEST_NODE, Client, machine_body


@pytest.fixture
def make_cloud(tmp_path, monkeypatch):
    """Make a cloud (on a private test-driver node) whose default network has a name of its own."""
    monkeypatch.setenv("CIMI_ADMIN_PASSWORD", "admin-pw")
    name = f"dsc-default-{uuid.uuid4().hex[:8]}"
    made = []

    def make(**options):
        cloud = Cloud(Config(data_dir=str(tmp_path / "var"), workers=2, libvirt_uris=[f"test://{TEST_NODE}"],
                             **{"default_network": name, "default_network_cidr": "10.161.7.0/24", **options}))
        made.append(cloud)
        auth.add_user("alice", "alice-pw")
        return cloud, Client(testing.TestClient(create_app(cloud)), "alice", "alice-pw")
    yield name, make
    for cloud in made:
        cloud.close()


def nics(client, machine):
    return client.get(machine["networkInterfaces"]["href"]).json.get("machineNetworkInterfaces", [])


def test_a_machine_without_nics_gets_one_on_the_default_network(make_cloud):
    name, make = make_cloud
    cloud, alice = make()
    _, machine = alice.create("machines", machine_body(alice))
    (nic,) = nics(alice, machine)
    network = alice.get(nic["network"]["href"]).json
    assert (network["name"], network["state"], network["networkType"], network["cidr"]) == (
        name, "STARTED", "PUBLIC", "10.161.7.0/24")
    assert cloud.backend.network(name).mode == "nat"
    _, second = alice.create("machines", machine_body(alice, name="m2"))
    assert [n["network"] for n in nics(alice, second)] == [nic["network"]]        # one default network
    _, explicit = alice.create("machines", machine_body(alice, name="m3", networkInterfaces=[]))
    assert nics(alice, explicit) == []


def test_an_existing_libvirt_network_of_that_name_is_adopted(make_cloud):
    name, make = make_cloud
    cloud, alice = make()
    cloud.backend.create_network(model.NetworkSpec(name, "nat", "10.161.9.0/24"))
    _, machine = alice.create("machines", machine_body(alice))
    (nic,) = nics(alice, machine)
    assert alice.get(nic["network"]["href"]).json["name"] == name
    assert cloud.backend.network(name).cidr == "10.161.9.0/24"                  # adopted, not recreated


def test_an_empty_name_disables_it(make_cloud):
    _name, make = make_cloud
    _cloud, alice = make(default_network="")
    _, machine = alice.create("machines", machine_body(alice))
    assert nics(alice, machine) == []


def test_a_bad_request_adds_no_default_network(make_cloud):
    _name, make = make_cloud
    _cloud, alice = make()
    assert alice.post(alice.cep()["machines"]["href"], machine_body(alice, initialState="FLYING")).status_code == 400
    assert alice.get(alice.cep()["networks"]["href"]).json["count"] == 0
