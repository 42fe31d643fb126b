"""The console extension operation: a Machine's serial console log, as text, to its owner."""
import pytest

from backends import Unsupported
from cimi import errors
from tests.conftest import console_log, machine_body

CONSOLE = "urn:darn-simple-cloud:cimi:console"


def machine(client, **template):
    _resp, doc = client.create("machines", machine_body(client, **template))
    return doc


def console_href(doc):
    ops = [o["href"] for o in doc["operations"] if o["rel"] == CONSOLE]
    assert len(ops) == 1, doc["operations"]
    return ops[0]


@pytest.mark.parametrize("state", ["STARTED", "STOPPED"])
def test_owner_sees_the_console_operation_in_every_state(alice, state):
    doc = machine(alice, initialState=state)
    assert console_href(doc) == doc["id"] + "/console"


def test_resource_metadata_declares_the_console(alice):
    entries = alice.get(alice.cep()["resourceMetadata"]["href"]).json["resourceMetadata"]
    [machine] = [e for e in entries if e["name"] == "Machine"]
    assert [(a["uri"], a["method"], a["outputMessage"]) for a in machine["actions"] if a["name"] == "console"] == [
        (CONSOLE, "GET", "text/plain")]


def test_a_machine_that_never_wrote_has_an_empty_console(alice):
    resp = alice.get(console_href(machine(alice)))
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert resp.text == ""


def test_the_console_serves_the_last_lines_of_the_log(cloud, alice):
    doc = machine(alice)
    log = console_log(cloud, doc)
    log.with_name(log.name + ".0").write_bytes(b"".join(b"old %d\n" % i for i in range(300)))   # rotated
    log.write_bytes(b"boot\r\n\x1b[1mlogin:\x1b[0m \xff\n")
    href = console_href(doc)
    assert alice.get(href, params={"tail": "2"}).text == "boot\r\n\x1b[1mlogin:\x1b[0m \ufffd\n"
    assert alice.get(href, params={"tail": "3"}).text.startswith("old 299\nboot")    # reaches into the backup
    assert alice.get(href).text.count("\n") == 200                                   # the default tail
    assert alice.get(href, params={"tail": "100000"}).text.startswith("old 0\n")


def test_text_plain_is_acceptable_for_the_console_only(alice):
    doc = machine(alice)
    assert alice.get(console_href(doc), accept="text/plain").status_code == 200
    assert alice.get(doc["id"], accept="text/plain").status_code == 406


def test_another_user_gets_404(cloud, alice, bob):
    doc = machine(alice)
    console_log(cloud, doc).write_text("secret\n")
    resp = bob.get(console_href(doc), accept="text/plain")
    assert resp.status_code == 404 and "secret" not in resp.text
    assert resp.json["resourceURI"].endswith("/Job")            # a CIMI error, even to a text/plain client


@pytest.mark.parametrize("tail", ["0", "-1", "100001", "ten", "", "1.5"])
def test_a_bad_tail_is_400(alice, tail):
    resp = alice.get(console_href(machine(alice)), params={"tail": tail}, accept="text/plain")
    assert resp.status_code == 400 and "tail" in resp.json["message"]


def test_a_backend_that_cannot_read_the_log_answers_501_not_500():
    """A remote host's log is on that host's disk (backends.libvirt.machines.console_log)."""
    assert errors.from_backend(Unsupported("remote")).status_code == 501
