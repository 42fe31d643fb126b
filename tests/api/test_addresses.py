"""Addresses from DHCP leases: the reconciliation pass keeps them in line with the networks' leases."""
from cimi.reconcile import reconcile, reconcile_addresses
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
