"""A refusal says what is wrong in words a user reads: no regular expression, and no 5000-character echo."""
from tests.conftest import machine_body

CIMI = "http://schemas.dmtf.org/cimi/1"


def test_a_very_long_name_is_not_quoted_back_whole(alice):
    body = machine_body(alice, "x" * 5000)
    resp = alice.post(alice.cep()["machines"]["href"], body)
    assert resp.status_code == 400
    assert "5000 characters, more than 1024" in resp.json["message"] and len(resp.json["message"]) < 200


def test_a_value_in_the_wrong_form_is_described_not_matched_against_a_regex(alice):
    resp = alice.post(alice.cep()["networks"]["href"], {"name": "n", "networkTemplate": {
        "networkConfig": {"networkType": "PRIVATE", "cidr": "10.0.0.0"}}})
    assert resp.status_code == 400
    message = resp.json["message"]
    assert "'10.0.0.0' is not in the expected form (an IPv4 network with its prefix length" in message, message
    assert "\\d" not in message and "^" not in message


def test_a_long_wrong_value_is_cut_short(alice):
    resp = alice.post(alice.cep()["networks"]["href"], {"name": "n", "networkTemplate": {
        "networkConfig": {"networkType": "PRIVATE", "cidr": "1" * 3000}}})
    assert resp.status_code == 400 and "(3002 characters)" in resp.json["message"]
    assert len(resp.json["message"]) < 300
