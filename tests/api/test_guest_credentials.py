"""A Credential given to a Machine reaches its guest as a login, its password only as a hash."""
import json
import re
import subprocess

import pytest

from cimi import errors
from cimi.store import db
from cimi.ops.credentials import guest_user, password_hash
from tests.conftest import machine_body

CIMI = "http://schemas.dmtf.org/cimi/1"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample alice@x"


def test_password_hash_is_salted_sha512_crypt():
    hashed = password_hash("s3cret é")
    match = re.fullmatch(r"\$6\$([./0-9A-Za-z]{1,16})\$[./0-9A-Za-z]{86}", hashed)
    assert match, hashed
    again = subprocess.run(["openssl", "passwd", "-6", "-salt", match.group(1), "s3cret é"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert again == hashed                                  # the same password under the same salt
    assert password_hash("s3cret é") != hashed              # a fresh salt each time


def test_a_password_with_a_line_break_is_refused():
    with pytest.raises(errors.BadRequest):
        password_hash("two\nlines")


@pytest.mark.parametrize("credential,user", [
    ({"userName": "alice", "publicKey": KEY}, {"name": "alice", "keys": [KEY], "passwordHash": None}),
    ({"publicKey": KEY}, {"name": None, "keys": [KEY], "passwordHash": None}),
    ({"userName": "bob"}, {"name": "bob", "keys": [], "passwordHash": None}),
    ({}, None),
])
def test_guest_user_of_a_credential(credential, user):
    assert guest_user(credential) == user


def test_machine_with_a_credential_keeps_no_plain_password(alice):
    _resp, cred = alice.create("credentials", {
        "resourceURI": f"{CIMI}/CredentialCreate", "name": "login",
        "credentialTemplate": {"userName": "alice", "password": "pl41n-s3cret", "publicKey": KEY}})
    resp, machine = alice.create("machines", machine_body(alice, credential={"href": cred["id"]}))
    assert machine["state"] == "STARTED"
    job = db.model_for("Job").get_by_id(resp.headers["CIMI-Job-URI"].rsplit("/", 1)[-1])
    assert "pl41n-s3cret" not in job.payload
    [user] = json.loads(job.payload)["users"]
    assert user["name"] == "alice" and user["keys"] == [KEY] and user["passwordHash"].startswith("$6$")


@pytest.mark.parametrize("template, said", [
    ({"userName": "<img src=x onerror=alert(1)>", "publicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 me"},
     "is not a login a guest can have"),
    ({"userName": "Root"}, "is not a login a guest can have"),
    ({"publicKey": "hello world"}, "is not an OpenSSH public key line"),
    ({"key": "68656c6c6f"}, "is not an OpenSSH public key line"),                 # hexBinary of "hello"
])
def test_a_login_no_guest_could_use_is_refused(alice, template, said):
    href = alice.cep()["credentials"]["href"]
    resp = alice.post(href, {"name": "bad", "credentialTemplate": template})
    assert resp.status_code == 400 and said in resp.json["message"], resp.text
    assert alice.get(href).json["count"] == 0
