"""The console extension operation: a Machine's serial console log, as text, to its owner."""
import pathlib
import shutil
import tempfile

import libvirt
import pytest
from falcon import testing
from lxml import etree

from backends import Unsupported
from cimi import auth, errors, naming
from cimi.http.app import create_app
from cimi.cloud import Cloud, Config
from tests.conftest import Client, console_log, machine_body

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
    assert errors.status_of(Unsupported("remote")) == 501


@pytest.mark.libvirtd
def test_a_running_machine_shows_its_vnc_and_console_on_a_real_libvirtd(libvirtd, libvirtd_pool, tmp_path,
                                                                        monkeypatch):
    """Under TCG: vnc is recorded after start and cleared after stop; the console log is served."""
    pool, _blank = libvirtd_pool
    consoles = pathlib.Path(tempfile.mkdtemp(prefix="dsc-consoles-", dir="/var/tmp"))   # virtlogd writes here
    monkeypatch.setenv("CIMI_ADMIN_PASSWORD", "admin-pw")
    cloud = Cloud(Config(data_dir=str(tmp_path / "var"), workers=2, libvirt_uris=[libvirtd], image_pool=pool,
                         volume_pool=pool, reconcile_every=0, domain_type="qemu", console_dir=str(consoles)))
    auth.add_user("alice", "alice-pw")
    alice = Client(testing.TestClient(create_app(cloud)), "alice", "alice-pw")
    observer = libvirt.open(libvirtd)
    doc = None
    try:
        doc = machine(alice)
        assert doc["state"] == "STARTED"
        domain_name = naming.machine_name(doc["id"].rsplit("/", 1)[-1])
        live = etree.fromstring(observer.lookupByName(domain_name).XMLDesc(0))
        assert doc["vnc"] == "127.0.0.1:" + live.find("devices/graphics").get("port")
        assert console_log(cloud, doc).exists()
        resp = alice.get(console_href(doc), params={"tail": "5"})
        assert resp.status_code == 200 and resp.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert "vnc" not in alice.act(doc, "stop", {"resourceURI": "http://schemas.dmtf.org/cimi/1/Action",
                                                    "action": "http://schemas.dmtf.org/cimi/1/action/stop",
                                                    "force": True})
    finally:
        if doc is not None:
            resp = alice.delete(doc["id"])
            assert alice.wait(resp.headers["CIMI-Job-URI"], timeout=60)["state"] == "SUCCESS"
        observer.close()
        cloud.close()
        shutil.rmtree(consoles)
