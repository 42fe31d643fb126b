"""A Network's address range is checked before the 202 (a failed create: tests/backends/test_libvirtd_networks.py)."""
import pytest

NETWORKS = "http://schemas.dmtf.org/cimi/1/NetworkCreate"


def network_body(cidr, kind="PUBLIC"):
    return {"resourceURI": NETWORKS, "name": "n", "networkTemplate": {
        "networkConfig": {"networkType": kind, "cidr": cidr}}}


def count(client):
    return client.get(client.cep()["networks"]["href"]).json["count"]


@pytest.mark.parametrize("cidr", ["10.7.0.0/33", "not a range", "2001:db8::/64", "10.7.0.0/31"])
def test_a_bad_range_is_400_and_makes_nothing(alice, cidr):
    before = count(alice)
    resp = alice.post(alice.cep()["networks"]["href"], network_body(cidr))
    assert resp.status_code == 400 and "cidr" in resp.json["message"]
    assert count(alice) == before


def test_an_overlapping_range_is_409_and_names_only_what_the_user_may_read(alice, bob):
    _, mine = alice.create("networks", network_body("10.77.1.0/24"))
    refused = alice.post(alice.cep()["networks"]["href"], network_body("10.77.1.128/25"))
    assert refused.status_code == 409 and mine["id"].rsplit("/", 1)[-1] in refused.json["message"]
    theirs = bob.post(bob.cep()["networks"]["href"], network_body("10.77.0.0/16"))
    assert theirs.status_code == 409 and "another Network" in theirs.json["message"]
    assert mine["id"].rsplit("/", 1)[-1] not in theirs.json["message"]
    assert count(bob) == 0
