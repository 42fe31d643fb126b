"""Addresses from DHCP leases: the reconciliation pass keeps them in line with the networks' leases."""
from cimi.ops.reconcile import reconcile, reconcile_addresses
from tests.conftest import machine_body

CIMI = "http://schemas.dmtf.org/cimi/1"
NETWORK = {"resourceURI": f"{CIMI}/NetworkCreate", "name": "lan",
           "networkTemplate": {"networkConfig": {"networkType": "PRIVATE", "cidr": "192.168.150.0/24"}}}


class Leases:
    """Stands for the backend's network_leases: {network key: [(mac, ip, hostname)]}."""

    def __init__(self):
        self.by_key = {}

    def __call__(self, key):
        return list(self.by_key.get(key, ()))


def setup_machine(cloud, client):
    _, network = client.create("networks", NETWORK)
    body = machine_body(client)
    body["machineTemplate"]["networkInterfaces"] = [{"network": {"href": network["id"]}}]
    _, machine = client.create("machines", body)
    nic = client.get(machine["networkInterfaces"]["href"]).json["machineNetworkInterfaces"][0]
    from cimi import store
    key = store.get("Network", network["id"].rsplit("/", 1)[-1])["data"]["_key"]
    leases = Leases()
    cloud.backend.network_leases = leases
    return network, machine, nic["macAddress"], key, leases


def addresses(client):
    return client.get(client.cep()["addresses"]["href"]).json.get("addresses", [])


def test_a_lease_of_our_machine_becomes_its_owners_address(cloud, alice, bob):
    network, _machine, mac, key, leases = setup_machine(cloud, alice)
    leases.by_key[key] = [(mac.upper(), "192.168.150.23", "web1"), ("52:54:00:00:00:99", "192.168.150.99", "stray")]
    assert reconcile_addresses(cloud) == (1, 0, 0)
    (address,) = addresses(alice)
    assert (address["ip"], address["hostname"], address["allocation"], address["protocol"]) == (
        "192.168.150.23", "web1", "dynamic", "IPv4")
    assert address["network"]["href"] == network["id"]
    assert addresses(bob) == []
    assert reconcile_addresses(cloud) == (0, 0, 0)                     # stable


def test_changed_and_expired_leases_update_and_remove_addresses(cloud, alice):
    _network, _machine, mac, key, leases = setup_machine(cloud, alice)
    leases.by_key[key] = [(mac, "192.168.150.23", "web1")]
    reconcile_addresses(cloud)
    leases.by_key[key] = [(mac, "192.168.150.23", "renamed")]
    assert reconcile_addresses(cloud) == (0, 1, 0)
    assert [a["hostname"] for a in addresses(alice)] == ["renamed"]
    leases.by_key[key] = [(mac, "192.168.150.40", None)]
    assert reconcile_addresses(cloud) == (1, 0, 1)
    (address,) = addresses(alice)
    assert address["ip"] == "192.168.150.40" and "hostname" not in address
    leases.by_key[key] = []
    assert reconcile_addresses(cloud) == (0, 0, 1)
    assert addresses(alice) == []


def test_unreadable_leases_keep_the_addresses(cloud, alice):
    import backends
    _network, _machine, mac, key, leases = setup_machine(cloud, alice)
    leases.by_key[key] = [(mac, "192.168.150.23", "web1")]
    reconcile_addresses(cloud)

    def down(key):
        raise backends.Unavailable("libvirtd is restarting")
    cloud.backend.network_leases = down
    assert reconcile_addresses(cloud) == (0, 0, 0)
    assert len(addresses(alice)) == 1


def test_the_periodic_pass_includes_addresses_and_deleted_machines_lose_them(cloud, alice):
    _network, machine, mac, key, leases = setup_machine(cloud, alice)
    leases.by_key[key] = [(mac, "192.168.150.23", "web1")]
    reconcile(cloud)
    assert len(addresses(alice)) == 1
    resp = alice.delete(machine["id"])
    assert alice.wait(resp.headers["CIMI-Job-URI"])["state"] == "SUCCESS"
    reconcile(cloud)                                                   # the lease outlives the machine
    assert addresses(alice) == []


def test_the_machine_lists_its_addresses_and_clients_filter_by_resource(cloud, alice, bob):
    network, machine, mac, key, leases = setup_machine(cloud, alice)
    leases.by_key[key] = [(mac, "192.168.150.23", "web1")]
    reconcile_addresses(cloud)
    query = {"$filter": f"resource/href='{machine['id']}'"}
    (address,) = alice.get(alice.cep()["addresses"]["href"], params=query).json["addresses"]
    assert address["resource"] == {"href": machine["id"]} and address["ip"] == "192.168.150.23"
    assert bob.get(bob.cep()["addresses"]["href"], params=query).json.get("addresses") is None
    (nic,) = alice.get(machine["networkInterfaces"]["href"]).json["machineNetworkInterfaces"]
    listed = nic["addresses"]
    assert listed["count"] == 1 and listed["machineNetworkInterfaceAddresses"] == [{"address": {"href": address["id"]}}]
    collection = alice.get(listed["href"]).json
    assert collection["resourceURI"].endswith("/MachineNetworkInterfaceAddressCollection")
    assert collection["machineNetworkInterfaceAddresses"] == [{"address": {"href": address["id"]}}]
    resp = alice.delete(machine["id"])
    assert alice.wait(resp.headers["CIMI-Job-URI"])["state"] == "SUCCESS"
    assert addresses(alice) == []                                     # at once, not at the next pass


def test_a_lease_shows_within_seconds_of_the_start(tmp_path, monkeypatch):
    """No 30 s wait: while a started Machine's NIC has no Address, the leases are read every poll."""
    import time

    from falcon import testing

    from cimi import auth
    from cimi.http.app import create_app
    from cimi.cloud import Cloud, Config
    from tests.conftest import TEST_NODE, Client
    monkeypatch.setenv("CIMI_ADMIN_PASSWORD", "admin-pw")
    cloud = Cloud(Config(data_dir=str(tmp_path / "var"), workers=2, libvirt_uris=[f"test://{TEST_NODE}"],
                         reconcile_every=3600, lease_poll=0.2))
    try:
        auth.add_user("alice", "alice-pw")
        alice = Client(testing.TestClient(create_app(cloud)), "alice", "alice-pw")
        _network, machine, mac, key, leases = setup_machine(cloud, alice)
        leases.by_key[key] = [(mac, "192.168.150.23", "web1")]       # the guest's DHCP client got its lease
        deadline = time.monotonic() + 5
        while not addresses(alice):
            assert time.monotonic() < deadline, "the lease did not show within 5 s"
            time.sleep(0.1)
        assert addresses(alice)[0]["resource"] == {"href": machine["id"]}
    finally:
        cloud.close()
